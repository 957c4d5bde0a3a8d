"""The README's Makefile and pre-commit hooks, run as a new user would run them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from notebooks import write_notebook

BIN = Path(sys.executable).parent


def readme_block(heading: str, language: str) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(heading) :]
    start = section.index(f"```{language}\n") + len(f"```{language}\n")
    return section[start : section.index("```", start)]


def make(folder: Path, *targets: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["make", *targets], cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_readme_makefile_rebuilds_only_what_changed(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(readme_block("### Makefile", "make"))
    cells = ["parameters: n = 2", "deploy: n * 3"]
    write_notebook(tmp_path / "notebooks" / "churn_deploy.ipynb", cells)
    write_notebook(tmp_path / "notebooks" / "sales_deploy.ipynb", cells)
    write_notebook(tmp_path / "notebooks" / "sales_exploration.ipynb", ["x = 1"])
    first = make(tmp_path, "pipelines")
    assert first.count("nb2prod build") == 2
    assert (tmp_path / "build" / "sales_deploy" / "sales_deploy" / "pipeline.py").exists()
    assert "Nothing to be done" in make(tmp_path, "pipelines")
    time.sleep(0.05)  # a later modification time than the package folder's
    write_notebook(tmp_path / "notebooks" / "churn_deploy.ipynb", [*cells, "deploy: n * 4"])
    again = make(tmp_path, "pipelines")
    assert "notebooks/churn_deploy.ipynb" in again and "sales_deploy" not in again


def test_pre_commit_hooks_run_nb2prod() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: nb2prod-check\n" in text
    assert "  entry: nb2prod build --check --quiet\n" in text
    assert "- id: nb2prod-lint\n" in text
    assert "  entry: nb2prod lint\n" in text


def test_pre_commit_check_entry_fails_on_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook's entry command, as pre-commit runs it: from the repository root, no file names."""
    (tmp_path / "pyproject.toml").write_text('[tool.nb2prod]\nnotebooks = ["notebooks"]\n')
    notebook = tmp_path / "notebooks" / "churn_deploy.ipynb"
    write_notebook(notebook, ["parameters: n = 2", "deploy: n * 3"])
    entry = [str(BIN / "nb2prod"), "build", "--check", "--quiet"]
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "check": False}
    assert subprocess.run(entry, **run).returncode == 1  # type: ignore[call-overload]
    subprocess.run([str(BIN / "nb2prod"), "build"], **run)  # type: ignore[call-overload]
    assert subprocess.run(entry, **run).returncode == 0  # type: ignore[call-overload]
    write_notebook(notebook, ["parameters: n = 5", "deploy: n * 3"])
    stale = subprocess.run(entry, **run)  # type: ignore[call-overload]
    assert stale.returncode == 1
    assert "churn_deploy/pipeline.py: stale" in stale.stderr
