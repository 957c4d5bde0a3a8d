"""Building a notebook with serve cells: the build's line about the artifacts, and --quiet."""

from __future__ import annotations

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
        tmp_path / "scores_deploy.ipynb",
        [
            "parameters: weight = 2",
            "deploy: table = {'a': 1, 'b': 2}\ntable['c'] = 3",
            "serve: def score(key: str) -> int:\n    return table[key] * weight",
        ],
    )
    return tmp_path


def test_the_build_lists_the_artifacts_with_their_cells(project: Path) -> None:
    for _ in range(2):  # a rebuild answered from the cache says it again
        result = runner.invoke(app, ["build", "scores_deploy.ipynb"])
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(
            "scores_deploy.ipynb: serving reads table (cell 2), weight (parameter)\n"
        )
        assert "warning" not in result.stderr


def test_quiet_leaves_it_out(project: Path) -> None:
    result = runner.invoke(app, ["build", "scores_deploy.ipynb", "--quiet"])
    assert result.exit_code == 0
    assert "serving reads" not in result.stdout + result.stderr
