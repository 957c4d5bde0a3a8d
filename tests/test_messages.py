"""Messages that scale: a warning repeated across cells is one line, on a terminal and in logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nb2prod.build import build_notebook
from nb2prod.cli import app
from nb2prod.errors import Diagnostic, render_all, warning
from nb2prod.options import BuildOptions, RunOptions

from notebooks import write_notebook

runner = CliRunner()
TIME = "dropped %time; its statement is kept"


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        pytest.param([4], ["nb.ipynb: cell 4, line 1: warning: " + TIME], id="once: as it is"),
        pytest.param([3, 7], [f"nb.ipynb: cells 3 and 7: warning: {TIME}"], id="two cells"),
        pytest.param([3, 7, 9], [f"nb.ipynb: cells 3, 7 and 9: warning: {TIME}"], id="three"),
        pytest.param(
            [10, 11, 16, *range(20, 317)],
            [f"nb.ipynb: cells 10, 11, 16 and 297 more: warning: {TIME}"],
            id="300 cells",
        ),
    ],
)
def test_a_repeated_warning_is_one_line(cells: list[int], expected: list[str]) -> None:
    assert list(render_all("nb.ipynb", [warning(TIME, cell, 1) for cell in cells])) == expected


def test_grouping_keeps_the_order_and_leaves_the_rest_alone() -> None:
    diagnostics = [
        warning("first", 1),
        warning(TIME, 2, 1),
        warning(TIME, 2, 3),  # twice in one cell, the only cell: both lines stay
        warning("other", 3),
        warning("spread", 4),
        warning("spread", 5),
        Diagnostic("an error", 6, 1),
    ]
    assert render_all("nb.ipynb", diagnostics) == (
        "nb.ipynb: cell 1: warning: first",
        f"nb.ipynb: cell 2, line 1: warning: {TIME}",
        f"nb.ipynb: cell 2, line 3: warning: {TIME}",
        "nb.ipynb: cell 3: warning: other",
        "nb.ipynb: cells 4 and 5: warning: spread",
        "nb.ipynb: cell 6, line 1: an error",
    )


def test_in_a_text_notebook_the_line_is_the_first_ones() -> None:
    placed = [warning(TIME, cell, 1).at_file_line(start) for cell, start in ((5, 42), (9, 80))]
    assert render_all("nb.py", placed) == (f"nb.py: line 42 (cells 5 and 9): warning: {TIME}",)


def _many_times(path: Path) -> Path:
    cells = ["deploy: total = 0", *(f"deploy: %time total += {n}" for n in range(300))]
    return write_notebook(path, [*cells, "deploy: total"])


def test_a_build_prints_a_repeated_warning_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _many_times(tmp_path / "timed_deploy.ipynb")
    result = runner.invoke(app, ["build", "timed_deploy.ipynb"])  # CliRunner: not a terminal
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"timed_deploy.ipynb: cells 2, 3, 4 and 297 more: warning: {TIME}"
    ]


@pytest.mark.parametrize(
    "fancy", [pytest.param(True, id="terminal"), pytest.param(False, id="CI log")]
)
def test_both_reports_show_the_one_line(
    fancy: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb2prod.progress import reporting

    notebook = _many_times(tmp_path / "timed_deploy.ipynb")
    result = build_notebook(notebook, BuildOptions(out=tmp_path / "out"), RunOptions(cache=False))
    with reporting(1, quiet=False, fancy=fancy) as report:
        report(result)
    captured = capsys.readouterr()
    shown = [line for line in (captured.out + captured.err).splitlines() if "warning" in line]
    assert shown == [f"{notebook.as_posix()}: cells 2, 3, 4 and 297 more: warning: {TIME}"]


def test_marks_setting_chooses_the_dialects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_notebook(
        tmp_path / "nb" / "kale_deploy.ipynb",
        ["imports: import math", "x = math.pi", "deploy: round(x, 2)"],
    )
    assert runner.invoke(app, ["build", "nb"]).exit_code == 0
    pipeline = tmp_path / "build" / "kale_deploy" / "kale_deploy" / "pipeline.py"
    assert "import math" in pipeline.read_text() and "x = math.pi" in pipeline.read_text()
    (tmp_path / "pyproject.toml").write_text('[tool.nb2prod]\nmarks = ["nb2prod"]\n')
    without_kale = runner.invoke(app, ["build", "nb", "-o", "without_kale"])
    assert without_kale.exit_code == 1
    assert "cell 2 binds it: mark cell 2 deploy" in without_kale.stderr  # exploration now
    both = runner.invoke(
        app, ["build", "nb", "-o", "both", "--marks", "kale", "--marks", "nb2prod"]
    )
    assert both.exit_code == 0, both.stderr


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param('marks = ["kale", "papermill"]', "unknown dialect 'papermill'", id="unknown"),
        pytest.param("marks = []", "marks must name one or more", id="none"),
        pytest.param("marks = [1]", "marks must be a list of strings", id="not text"),
    ],
)
def test_bad_marks_setting(
    table: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "a_deploy.ipynb", ["deploy: 1"])
    (tmp_path / "pyproject.toml").write_text(f"[tool.nb2prod]\n{table}\n")
    result = runner.invoke(app, ["build", "a_deploy.ipynb"])
    assert result.exit_code == 2
    assert message in result.stderr


def test_unknown_marks_option_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "a_deploy.ipynb", ["deploy: 1"])
    result = runner.invoke(app, ["build", "a_deploy.ipynb", "--marks", "quarto"])
    assert result.exit_code == 2
    assert "unknown dialect 'quarto'" in result.stderr
