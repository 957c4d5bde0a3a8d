"""Folders of notebooks, [tool.nb2prod] settings, no-op rebuilds, -j and --quiet."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nb2prod import build as build_module
from nb2prod.batch import summary
from nb2prod.build import BuildResult, Status
from nb2prod.cli import app
from nb2prod.discovery import find_notebooks
from nb2prod.settings import SettingsError, load_settings

from notebooks import write_notebook

runner = CliRunner()
GOOD = ["parameters: n = 3", "deploy: rows = list(range(n))", "deploy: len(rows)"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "notebooks" / "churn_deploy.ipynb", GOOD)
    write_notebook(tmp_path / "notebooks" / "sub" / "sales_deploy.ipynb", GOOD)
    write_notebook(tmp_path / "notebooks" / "sales_exploration.ipynb", ["x = 1"])
    write_notebook(tmp_path / "notebooks" / ".ipynb_checkpoints" / "churn_deploy.ipynb", GOOD)
    write_notebook(tmp_path / "notebooks" / ".hidden" / "old_deploy.ipynb", GOOD)
    return tmp_path


def files_and_mtimes(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_discovery_is_recursive_and_skips_checkpoints_and_hidden(folder: Path) -> None:
    assert find_notebooks([Path("notebooks")]) == [
        Path("notebooks/churn_deploy.ipynb"),
        Path("notebooks/sub/sales_deploy.ipynb"),
    ]


def test_named_files_are_kept_as_given(folder: Path) -> None:
    named = [Path("notebooks/sales_exploration.ipynb"), Path("missing.ipynb")]
    assert find_notebooks(named) == named


def test_folder_build_goes_on_after_a_failure_and_ends_with_a_summary(folder: Path) -> None:
    write_notebook(folder / "notebooks" / "broken_deploy.ipynb", ["deploy: x = = 1"])
    code, out, err = invoke("build", "notebooks")
    assert code == 1
    assert "notebooks/broken_deploy.ipynb: cell 1, line 1: syntax error" in err
    assert (folder / "build" / "churn_deploy" / "churn_deploy" / "pipeline.py").exists()
    assert (folder / "build" / "sales_deploy" / "sales_deploy" / "pipeline.py").exists()
    assert not (folder / "build" / "broken_deploy").exists()
    assert out.strip().splitlines()[-1] == "3 notebooks: 2 written, 1 failed"


def test_folder_without_deploy_notebooks(folder: Path) -> None:
    (folder / "empty").mkdir()
    code, _, err = invoke("build", "empty")
    assert code == 1
    assert "empty: no notebook whose file name contains 'deploy'" in err


def test_two_notebooks_into_one_package_is_refused(folder: Path) -> None:
    write_notebook(folder / "other" / "churn_deploy.ipynb", GOOD)
    code, _, err = invoke("build", "notebooks", "other")
    assert code == 1
    assert "other/churn_deploy.ipynb: builds into the same package 'churn_deploy'" in err
    assert not (folder / "build").exists()


def test_noop_rebuild_writes_nothing_and_skips_the_pipeline(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("build", "notebooks")[0] == 0
    before = files_and_mtimes(folder / "build")

    def fail(*args: object) -> None:
        raise AssertionError("a rebuild with nothing changed must not regenerate")

    monkeypatch.setattr(build_module, "render_package", fail)
    code, out, _ = invoke("build", "notebooks")
    assert code == 0
    assert "2 notebooks: 2 unchanged" in out
    assert files_and_mtimes(folder / "build") == before
    assert invoke("build", "notebooks", "--check")[0] == 0


def test_fast_path_still_sees_a_hand_edit_and_a_changed_notebook(folder: Path) -> None:
    invoke("build", "notebooks")
    pipeline = folder / "build" / "churn_deploy" / "churn_deploy" / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "# tweak\n")
    code, _, err = invoke("build", "notebooks", "--check")
    assert code == 1 and "pipeline.py" in err
    pipeline.write_text(pipeline.read_text().replace("# tweak\n", ""))
    assert invoke("build", "notebooks", "--check")[0] == 0
    write_notebook(
        folder / "notebooks" / "churn_deploy.ipynb", [*GOOD[:2], "deploy: len(rows) + 1"]
    )
    code, _, err = invoke("build", "notebooks", "--check")
    assert code == 1 and "churn_deploy/pipeline.py: stale" in err


def test_warnings_are_repeated_by_a_noop_rebuild(folder: Path) -> None:
    write_notebook(folder / "m_deploy.ipynb", ["deploy: %matplotlib inline\nx = 1", "deploy: x"])
    first = invoke("build", "m_deploy.ipynb")[2]
    second = invoke("build", "m_deploy.ipynb")[2]
    assert "warning: dropped the notebook-only magic" in first
    assert first == second


def test_parallel_jobs_build_every_notebook(folder: Path) -> None:
    code, out, _ = invoke("build", "notebooks", "-j", "2")
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "2 notebooks: 2 written"
    assert (folder / "build" / "sales_deploy" / "tests" / "test_sales_deploy.py").exists()


def test_quiet_prints_only_the_summary(folder: Path) -> None:
    code, out, err = invoke("build", "notebooks", "--quiet")
    assert code == 0
    assert out.strip() == "2 notebooks: 2 written"
    assert err == ""


def test_plain_lines_when_not_a_terminal(folder: Path) -> None:
    _, out, _ = invoke("build", "notebooks")
    assert out.splitlines() == [
        "notebooks/churn_deploy.ipynb: written -> build/churn_deploy",
        "notebooks/sub/sales_deploy.ipynb: written -> build/sales_deploy",
        "2 notebooks: 2 written",
    ]


PYPROJECT = """
[project]
name = "team"

[tool.nb2prod]
notebooks = ["notebooks"]
out = "dist/pipelines"
quiet = true
"""


def test_settings_give_notebooks_and_out(folder: Path) -> None:
    (folder / "pyproject.toml").write_text(PYPROJECT)
    code, out, _ = invoke("build")
    assert code == 0
    assert out.strip() == "2 notebooks: 2 written"
    assert (folder / "dist" / "pipelines" / "churn_deploy" / "pyproject.toml").exists()


def test_command_line_wins_over_settings(folder: Path) -> None:
    (folder / "pyproject.toml").write_text(PYPROJECT)
    code, _, _ = invoke("build", "notebooks/churn_deploy.ipynb", "--out", "elsewhere")
    assert code == 0
    assert (folder / "elsewhere" / "churn_deploy").is_dir()
    assert not (folder / "dist").exists()


def test_settings_are_found_from_a_subfolder_with_paths_from_the_pyproject(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.chdir(folder / "notebooks" / "sub")
    code, _, _ = invoke("build")
    assert code == 0
    pipeline = folder / "dist" / "pipelines" / "churn_deploy" / "churn_deploy" / "pipeline.py"
    assert "from notebooks/churn_deploy.ipynb:" in pipeline.read_text().splitlines()[0]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param("jbos = 2", "has an unknown key 'jbos'", id="unknown key is named"),
        pytest.param("out = 3", "out must be a string, not 3", id="wrong type"),
        pytest.param("jobs = 0", "jobs must be 1 or more", id="jobs below one"),
        pytest.param("[tool.nb2prod.lint]\ncolour = 1", "unknown key 'colour'", id="lint key"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(folder: Path, table: str, message: str) -> None:
    (folder / "pyproject.toml").write_text(f"[tool.nb2prod]\n{table}\n")
    code, _, err = invoke("build", "notebooks")
    assert code == 2
    assert err.startswith("pyproject.toml: ") and message in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SettingsError, match=r"pyproject\.toml"):
        load_settings(folder)


def test_nearest_pyproject_without_the_table_is_passed_over(folder: Path) -> None:
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "notebooks" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    settings = load_settings(folder / "notebooks")
    assert settings.file == folder / "pyproject.toml"
    assert settings.defaults["out"] == Path("../dist/pipelines")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param([], "from_file", id="file beats default"),
        pytest.param(["--out", "command_line"], "command_line", id="command line beats file"),
    ],
)
def test_settings_are_the_defaults_of_the_options(
    folder: Path, arguments: list[str], expected: str
) -> None:
    (folder / "pyproject.toml").write_text('[tool.nb2prod]\nout = "from_file"\n')
    code, _, err = invoke("build", "notebooks/churn_deploy.ipynb", *arguments)
    assert code == 0, err
    assert (folder / expected / "churn_deploy" / "churn_deploy" / "pipeline.py").exists()


def test_summary_counts_by_status() -> None:
    results = [
        BuildResult(Path("a"), Status.WRITTEN),
        BuildResult(Path("b"), Status.FAILED),
        BuildResult(Path("c"), Status.WRITTEN),
    ]
    assert summary(results) == "3 notebooks: 2 written, 1 failed"


@pytest.mark.parametrize(
    "fancy",
    [
        pytest.param(True, id="rich progress bar on a terminal"),
        pytest.param(False, id="plain lines otherwise"),
    ],
)
def test_reporting_shows_each_result(fancy: bool, capsys: pytest.CaptureFixture[str]) -> None:
    from nb2prod.progress import reporting

    written = BuildResult(Path("a_deploy.ipynb"), Status.WRITTEN, Path("build/a_deploy"))
    failed = BuildResult(Path("b_deploy.ipynb"), Status.FAILED, messages=("b_deploy.ipynb: bad",))
    with reporting(2, quiet=False, fancy=fancy) as report:
        report(written)
        report(failed)
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "a_deploy.ipynb: written -> build/a_deploy" in shown
    assert "b_deploy.ipynb: bad" in shown
