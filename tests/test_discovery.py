"""Finding notebooks: text notebooks in folders, pairs built once, and the commands that share it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest
import yaml
from typer.testing import CliRunner

from nb2prod.cli import app
from nb2prod.discovery import find_notebooks

from conftest import ROOT
from notebooks import write_notebook

runner = CliRunner()

PERCENT = '# %% tags=["parameters"]\nn = 2\n\n# %% tags=["deploy"]\nn * 3\n'
MYST = (
    "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
    "kernelspec:\n  name: python3\n  display_name: Python 3\n  language: python\n---\n\n"
    "```{code-cell} ipython3\n:tags: [deploy]\n\n1 + 1\n```\n"
)
MODULE = "def deploy():\n    return 1\n"


def _paired(folder: Path, stem: str, formats: str | None, text_fmt: str = "py:percent") -> None:
    """An .ipynb and its text notebook, with jupytext's pairing metadata when `formats`."""
    ipynb = write_notebook(folder / f"{stem}.ipynb", ["parameters: n = 2", "deploy: n * 3"])
    node = jupytext.read(ipynb)
    if formats:
        node.metadata["jupytext"] = {"formats": formats}
        ipynb.write_text(json.dumps({**json.loads(ipynb.read_text()), "metadata": node.metadata}))
    suffix = "." + text_fmt.split(":")[0]
    jupytext.write(node, folder / f"{stem}{suffix}", fmt=text_fmt)


def test_folders_take_text_notebooks_named_deploy_but_not_modules(tmp_path: Path) -> None:
    (tmp_path / "a_deploy.py").write_text(PERCENT)
    (tmp_path / "b_deploy.md").write_text(MYST)
    (tmp_path / "deploy.py").write_text(MODULE)  # a plain module named deploy.py
    (tmp_path / "notes_deploy.md").write_text("# How we deploy\n\n```python\nx = 1\n```\n")
    (tmp_path / "c_exploration.py").write_text(PERCENT)
    write_notebook(tmp_path / "sub" / "d_deploy.ipynb", ["deploy: 1"])
    assert find_notebooks([tmp_path]) == [
        tmp_path / "a_deploy.py",
        tmp_path / "b_deploy.md",
        tmp_path / "sub" / "d_deploy.ipynb",
    ]


@pytest.mark.parametrize(
    ("formats", "text_fmt", "chosen"),
    [
        pytest.param("ipynb,py:percent", "py:percent", ".py", id="paired: the script"),
        pytest.param("ipynb,md:myst", "md:myst", ".md", id="paired: the MyST file"),
        pytest.param(None, "py:percent", ".ipynb", id="not paired: the ipynb"),
        pytest.param("ipynb,md", "py:percent", ".ipynb", id="paired with another file"),
    ],
)
def test_a_pair_is_found_once(
    formats: str | None, text_fmt: str, chosen: str, tmp_path: Path
) -> None:
    _paired(tmp_path, "churn_deploy", formats, text_fmt)
    everything = sorted(p for p in tmp_path.iterdir())
    assert find_notebooks([tmp_path]) == [tmp_path / f"churn_deploy{chosen}"]
    assert find_notebooks(everything) == [tmp_path / f"churn_deploy{chosen}"]


def test_pairing_named_only_in_the_text_header(tmp_path: Path) -> None:
    ipynb = write_notebook(tmp_path / "churn_deploy.ipynb", ["deploy: 1"])
    node = jupytext.read(ipynb)
    node.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    jupytext.write(node, tmp_path / "churn_deploy.py", fmt="py:percent")
    assert find_notebooks([tmp_path]) == [tmp_path / "churn_deploy.py"]


def test_a_folder_build_builds_a_pair_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _paired(tmp_path / "notebooks", "churn_deploy", "ipynb,py:percent")
    result = runner.invoke(app, ["build", "notebooks"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "notebooks/churn_deploy.py: written -> build/churn_deploy",
        "1 notebook: 1 written",
    ]
    header = (tmp_path / "build/churn_deploy/churn_deploy/pipeline.py").read_text().split("\n")[0]
    assert "notebooks/churn_deploy.py" in header
    assert runner.invoke(app, ["build", "notebooks", "--check"]).exit_code == 0


def test_lint_reads_text_notebooks_and_passes_over_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("churn_deploy.py").write_text(
        '# %% tags=["deploy"]\nimport pandas as pd\n\n# %%\nrows = pd.read_csv("customers.csv")\n'
    )
    Path("helpers.py").write_text(MODULE)
    Path("README.md").write_text("# Notes\n")
    result = runner.invoke(app, ["lint", "churn_deploy.py", "helpers.py", "README.md"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "churn_deploy.py: line 5 (cell 2, line 1): data file 'customers.csv' has no date in its "
        "name; name it like 2024-05-01_customers.csv"
    ]
    folder = runner.invoke(app, ["lint", "."])
    assert folder.stdout == result.stdout


def test_the_pre_commit_hooks_take_text_notebooks() -> None:
    hooks = {
        hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    }
    for hook in hooks.values():
        pattern = re.compile(hook["files"])
        for name in ("notebooks/churn_deploy.ipynb", "churn_deploy.py", "churn_deploy.md"):
            assert pattern.search(name), (hook["id"], name)
        assert not pattern.search("churn_deploy.ipynb.bak")
