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


def test_readme_pre_commit_for_jupytext_pairs(tmp_path: Path) -> None:
    """The README's hooks for a repository of paired notebooks: which files start them, and
    the check's entry as pre-commit runs it."""
    import re

    import jupytext
    import yaml

    config = yaml.safe_load(readme_block("### pre-commit with jupytext pairs", "yaml"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks["jupytext"]["args"] == ["--sync"]
    check, lint = hooks["nb2prod-check"], hooks["nb2prod-lint"]
    for name in ("notebooks/churn_deploy.ipynb", "notebooks/churn_deploy.py"):
        assert re.search(check["files"], name) and re.search(lint["files"], name)
    assert not re.search(check["files"], "src/helpers.py")
    (tmp_path / "pyproject.toml").write_text('[tool.nb2prod]\nnotebooks = ["notebooks"]\n')
    ipynb = write_notebook(tmp_path / "notebooks" / "churn_deploy.ipynb", ["deploy: 2 * 3"])
    node = jupytext.read(ipynb)
    node.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    jupytext.write(node, ipynb)
    script = tmp_path / "notebooks" / "churn_deploy.py"
    jupytext.write(node, script, fmt="py:percent")
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "check": False}
    entry = [str(BIN / "nb2prod"), *check["entry"].split()[1:]]
    assert subprocess.run(entry, **run).returncode == 1  # type: ignore[call-overload]
    built = subprocess.run([str(BIN / "nb2prod"), "build"], **run)  # type: ignore[call-overload]
    assert (
        built.stdout.splitlines()[0] == "notebooks/churn_deploy.py: written -> build/churn_deploy"
    )
    assert subprocess.run(entry, **run).returncode == 0  # type: ignore[call-overload]
    script.write_text(script.read_text().replace("2 * 3", "2 * 4"))
    stale = subprocess.run(entry, **run)  # type: ignore[call-overload]
    assert stale.returncode == 1 and "churn_deploy/pipeline.py: stale" in stale.stderr
    (tmp_path / "helpers.py").write_text("def helper():\n    return 1\n")
    lint_entry = [str(BIN / "nb2prod"), "lint", "notebooks/churn_deploy.py", "helpers.py"]
    linted = subprocess.run(lint_entry, **run)  # type: ignore[call-overload]
    assert (linted.returncode, linted.stdout) == (0, "")  # a module among the files is passed over
