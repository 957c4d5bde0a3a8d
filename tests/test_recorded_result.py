"""The golden test: the generated tests check run() against the notebook's recorded output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from IPython.lib.pretty import pretty

from nb2prod.build import Status

from conftest import build
from notebooks import write_notebook

CELLS = ["parameters: n = 40", "deploy: values = [i * 3 for i in range(n)]"]
VALUES = [i * 3 for i in range(40)]


def _project(tmp_path: Path, recorded: str) -> Path:
    notebook = write_notebook(tmp_path / "golden.ipynb", [*CELLS, ("deploy: values", recorded)])
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    return tmp_path / "out" / "golden"


def _pytest(project: Path, *, without_ipython: bool = False) -> subprocess.CompletedProcess[str]:
    hide = "import sys; sys.modules['IPython'] = None; " if without_ipython else ""
    code = f"{hide}import pytest; raise SystemExit(pytest.main(['-q', '-p', 'no:cacheprovider']))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("recorded", "without_ipython"),
    [
        pytest.param(pretty(VALUES), False, id="IPython's wrapped repr"),
        pytest.param(repr(VALUES), False, id="a repr on one line"),
        pytest.param(pretty(VALUES), True, id="wrapped repr, IPython not installed"),
    ],
)
def test_golden_test_passes_when_run_reproduces_the_output(
    tmp_path: Path, recorded: str, without_ipython: bool
) -> None:
    assert "\n" in pretty(VALUES), "the recorded output must be wrapped for this test to mean much"
    done = _pytest(_project(tmp_path, recorded), without_ipython=without_ipython)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_golden_test_fails_when_the_recorded_output_disagrees(tmp_path: Path) -> None:
    wrong = pretty(VALUES).replace("117", "118")
    done = _pytest(_project(tmp_path, wrong))
    assert done.returncode == 1
    assert "1 failed, 2 passed" in done.stdout
    assert "FAILED tests/test_golden.py::test_run_reproduces_recorded_result" in done.stdout


@pytest.mark.parametrize(
    ("recorded", "comment"),
    [
        pytest.param(None, "# No golden test: cell 3 has no recorded plain-text result", id="none"),
        pytest.param(
            "<Model object at 0x7f3a2c1b9d90>",
            "# No golden test: cell 3's recorded result names a memory address",
            id="a default repr with an address",
        ),
    ],
)
def test_no_golden_test_says_why(tmp_path: Path, recorded: str | None, comment: str) -> None:
    last = "deploy: values" if recorded is None else ("deploy: values", recorded)
    notebook = write_notebook(tmp_path / "golden.ipynb", [*CELLS, last])
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    text = (tmp_path / "out" / "golden" / "tests" / "test_golden.py").read_text()
    assert comment in text
    assert "def test_run_reproduces_recorded_result" not in text
