"""The generated project stands on its own: its tests pass, it names no absolute path."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.build import Status

from conftest import FIXTURES, ROOT, WORKING_CASES, build, generated_files, run_generated_tests

EXAMPLE = ROOT / "examples" / "churn_deploy.ipynb"


def test_generated_tests_pass_under_pytest(tmp_path: Path) -> None:
    assert build(EXAMPLE, tmp_path).status is Status.WRITTEN
    done = run_generated_tests(tmp_path / "churn_deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout  # with the golden test of the recorded result


@pytest.mark.parametrize("case", WORKING_CASES)
def test_fixture_tests_pass_under_pytest(case: str, tmp_path: Path) -> None:
    assert build(FIXTURES / case / "input.ipynb", tmp_path, name=case).status is Status.WRITTEN
    done = run_generated_tests(tmp_path / case)
    assert done.returncode == 0, done.stdout + done.stderr


def test_module_runs_as_a_command(tmp_path: Path) -> None:
    build(EXAMPLE, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "churn_deploy", "--n-customers", "10", "--seed", "1"],
        cwd=tmp_path / "churn_deploy",
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith('{"customers": ')


def test_no_absolute_paths_or_timestamps(tmp_path: Path) -> None:
    """Nothing of the machine or the moment of the build (the runtime module is checked to be
    nb2prod's own, the same for every build)."""
    build(EXAMPLE, tmp_path)
    absolute = re.compile(rf"(?<![\w.])({re.escape(str(tmp_path))}|{re.escape(str(ROOT))})")
    for rel, text in generated_files(tmp_path / "churn_deploy").items():
        assert not absolute.search(text), rel
        assert not re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d", text), rel


def test_package_never_reads_the_notebook_or_evals(tmp_path: Path) -> None:
    build(EXAMPLE, tmp_path)
    tree = ast.parse((tmp_path / "churn_deploy" / "churn_deploy" / "pipeline.py").read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef) and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            assert ".ipynb" not in node.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"exec", "eval", "compile"}
