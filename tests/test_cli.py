"""The command line through typer's CliRunner: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nb2prod.cli import app

from notebooks import write_notebook

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_notebook(
        tmp_path / "notebooks" / "churn_deploy.ipynb",
        [
            "parameters: n_customers = 120\nactive = True",
            "deploy: rows = list(range(n_customers))",
            "deploy: len(rows) if active else 0",
        ],
    )
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_build_writes_the_package(project: Path) -> None:
    code, out, _ = invoke("build", "notebooks/churn_deploy.ipynb")
    assert code == 0
    assert "written -> build/churn_deploy" in out
    package = project / "build" / "churn_deploy"
    assert {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()} == {
        "pyproject.toml",
        "churn_deploy/__init__.py",
        "churn_deploy/pipeline.py",
        "churn_deploy/__main__.py",
        "churn_deploy/runtime.py",
        "tests/test_churn_deploy.py",
    }


def test_rebuild_reports_unchanged(project: Path) -> None:
    invoke("build", "notebooks/churn_deploy.ipynb")
    code, out, _ = invoke("build", "notebooks/churn_deploy.ipynb")
    assert code == 0
    assert "unchanged" in out


def test_generated_cli_takes_typed_options(project: Path) -> None:
    from conftest import load_package

    invoke("build", "notebooks/churn_deploy.ipynb")
    with load_package(project / "build" / "churn_deploy", "churn_deploy"):
        import importlib

        main = importlib.import_module("churn_deploy.__main__")
        result = runner.invoke(main.app, ["--n-customers", "7"])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == "7"
        assert runner.invoke(main.app, ["--no-active"]).stdout.strip() == "0"
        assert runner.invoke(main.app, ["--n-customers", "many"]).exit_code == 2
        assert "--n-customers" in runner.invoke(main.app, ["--help"]).stdout


def test_error_is_one_line_with_cell_and_line(project: Path) -> None:
    write_notebook(project / "bad.ipynb", ["deploy: x = 1", "deploy: y = = 2"])
    code, out, err = invoke("build", "bad.ipynb")
    assert code == 1
    assert err.strip().splitlines() == [
        "bad.ipynb: cell 2, line 1: syntax error: invalid syntax; fix the cell so that it runs in Jupyter"
    ]
    assert "Traceback" not in out + err
    assert not (project / "build").exists()


def test_missing_file(project: Path) -> None:
    code, _, err = invoke("build", "nowhere.ipynb")
    assert code == 1
    assert err.strip() == "nowhere.ipynb: no such file; check the path"


def test_not_json(project: Path) -> None:
    (project / "junk.ipynb").write_text("{not json")
    code, _, err = invoke("build", "junk.ipynb")
    assert code == 1
    assert err.startswith("junk.ipynb: is not valid notebook JSON (line 1, column 2")


def test_usage_errors_exit_2(project: Path) -> None:
    assert invoke("build")[0] == 2
    assert invoke("build", "notebooks/churn_deploy.ipynb", "--bogus")[0] == 2
    assert invoke("build", "notebooks/churn_deploy.ipynb", "--name", "../x")[0] == 2
    assert invoke("build", "a.ipynb", "b.ipynb", "--name", "x")[0] == 2


def test_name_option(project: Path) -> None:
    code, _, _ = invoke("build", "notebooks/churn_deploy.ipynb", "--name", "scoring")
    assert code == 0
    assert (project / "build" / "scoring" / "scoring" / "pipeline.py").exists()


def test_check_reports_missing_then_passes(project: Path) -> None:
    code, _, err = invoke("build", "notebooks/churn_deploy.ipynb", "--check")
    assert code == 1
    assert "build/churn_deploy/churn_deploy/pipeline.py: missing" in err
    assert not (project / "build").exists()
    invoke("build", "notebooks/churn_deploy.ipynb")
    assert invoke("build", "notebooks/churn_deploy.ipynb", "--check")[0] == 0


def test_hand_edit_is_refused_then_forced(project: Path) -> None:
    invoke("build", "notebooks/churn_deploy.ipynb")
    pipeline = project / "build" / "churn_deploy" / "churn_deploy" / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "# my tweak\n")
    write_notebook(
        project / "notebooks" / "churn_deploy.ipynb",
        [
            "parameters: n_customers = 5\nactive = True",
            "deploy: rows = list(range(n_customers))",
            "deploy: len(rows) if active else 0",
        ],
    )
    code, _, err = invoke("build", "notebooks/churn_deploy.ipynb")
    assert code == 1
    assert "pipeline.py was edited by hand" in err and "--force" in err
    assert pipeline.read_text().endswith("# my tweak\n")
    assert invoke("build", "notebooks/churn_deploy.ipynb", "--force")[0] == 0
    assert "# my tweak" not in pipeline.read_text()


def test_warnings_go_to_stderr(project: Path) -> None:
    write_notebook(project / "m.ipynb", ["deploy: %matplotlib inline\nx = 1", "deploy: x"])
    code, _, err = invoke("build", "m.ipynb")
    assert code == 0
    assert "m.ipynb: cell 1, line 1: warning: dropped the notebook-only magic '%matplotlib'" in err


def test_help_lists_build() -> None:
    code, out, _ = invoke("--help")
    assert code == 0 and "build" in out


def test_path_parameter_is_a_path_option(project: Path) -> None:
    from conftest import load_package

    write_notebook(
        project / "paths.ipynb",
        [
            "parameters: import pathlib\ndata_dir = pathlib.Path('data')",
            "deploy: (data_dir / 'x.csv').as_posix()",
        ],
    )
    assert invoke("build", "paths.ipynb")[0] == 0
    with load_package(project / "build" / "paths", "paths") as pipeline:
        import importlib
        import inspect

        assert (
            str(inspect.signature(pipeline.run).parameters["data_dir"].annotation)
            == "pathlib.Path | None"
        )
        main = importlib.import_module("paths.__main__")
        assert (
            runner.invoke(main.app, ["--data-dir", "elsewhere"]).stdout.strip()
            == '"elsewhere/x.csv"'
        )
        assert runner.invoke(main.app, []).stdout.strip() == '"data/x.csv"'


def _console_build(folder: Path, notebook: str) -> subprocess.CompletedProcess[str]:
    """`nb2prod build NOTEBOOK --no-cache` through the console script, its output piped."""
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", "build", notebook, "--no-cache"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("cells", "code", "said"),
    [
        pytest.param(["deploy: x = 1", "deploy: x + 1"], 0, "written -> build", id="a build"),
        pytest.param(["deploy: y + 1"], 1, "`y` (read in cell 1", id="a refused build"),
    ],
)
def test_the_process_ends_with_the_build_and_says_everything(
    tmp_path: Path, cells: list[str], code: int, said: str
) -> None:
    """The console script ends the process at once after a build: nothing it printed is lost
    (through a pipe, fully buffered) and the exit code is the build's."""
    write_notebook(tmp_path / "end_deploy.ipynb", cells)
    done = _console_build(tmp_path, "end_deploy.ipynb")
    assert done.returncode == code
    assert said in done.stdout + done.stderr


def test_a_failed_large_build_leaves_no_process_behind(tmp_path: Path) -> None:
    """A build large enough to start a formatting process, failing early: the command still
    ends (a process left holding its output would hang whoever reads it)."""
    cells = [f"deploy: x{i} = {i}" for i in range(120)] + ["deploy: undefined_name + 1"]
    write_notebook(tmp_path / "large_deploy.ipynb", cells)
    done = _console_build(tmp_path, "large_deploy.ipynb")
    assert done.returncode == 1
    assert "undefined_name" in done.stderr


def test_build_help_shows_brackets_as_written() -> None:
    """Help texts are rich markup; a bracket that is text must show."""
    shown = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "200"}).stdout
    assert "default: `notebooks` in [tool.nb2prod]." in shown
    assert "Cache folder [default: $NB2PROD_CACHE_DIR, else the user's cache folder]." in shown
    assert (
        "[tool.nb2prod]." in runner.invoke(app, ["lint", "--help"], env={"COLUMNS": "200"}).stdout
    )


def test_check_without_the_options_of_the_build_says_so_in_one_line(project: Path) -> None:
    notebook = "notebooks/churn_deploy.ipynb"
    assert invoke("build", notebook, "--api")[0] == 0
    code, _, err = invoke("build", notebook, "--check")
    assert code == 1
    assert err.splitlines() == [
        "build/churn_deploy was built with --api; this check runs without it; give both the "
        "same options (keep them in [tool.nb2prod])"
    ]
    code, _, err = invoke("build", notebook, "--check", "--api", "--api-parameter", "active")
    assert code == 1
    assert err.splitlines() == [
        "build/churn_deploy was built without --api-parameter active; this check runs with it; "
        "give both the same options (keep them in [tool.nb2prod])"
    ]
    assert invoke("build", notebook, "--check", "--api")[0] == 0
    (project / "pyproject.toml").write_text("[tool.nb2prod]\napi = true\n")
    assert invoke("build", notebook, "--check")[0] == 0


def test_a_stale_check_with_the_same_options_still_lists_the_files(project: Path) -> None:
    notebook = "notebooks/churn_deploy.ipynb"
    assert invoke("build", notebook, "--api")[0] == 0
    write_notebook(
        project / notebook, ["parameters: n_customers = 5\nactive = True", "deploy: n_customers"]
    )
    code, _, err = invoke("build", notebook, "--check", "--api")
    assert code == 1
    assert "build/churn_deploy/churn_deploy/pipeline.py: stale" in err.splitlines()
