"""run() equals the notebook's parameters and deploy cells run in order, for every fixture."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nb2prod.build import Status

from conftest import FIXTURES, ROOT, WORKING_CASES, build, load_package
from reference import run_notebook

EXAMPLE = ROOT / "examples" / "churn_deploy.ipynb"


def same(left: Any, right: Any) -> bool:
    return bool(left == right) or repr(left) == repr(right)


def check(notebook: Path, package: str, tmp_path: Path, overrides: dict[str, Any]) -> None:
    result = build(notebook, tmp_path, name=package)
    assert result.status is Status.WRITTEN, result.messages
    with load_package(tmp_path / package, package) as pipeline:
        assert same(pipeline.run(), run_notebook(notebook))
        assert same(pipeline.run(), pipeline.run()), "two calls of run() must agree"
        if overrides:
            generated = pipeline.run(**copy.deepcopy(overrides))
            assert same(generated, run_notebook(notebook, copy.deepcopy(overrides)))


@pytest.mark.parametrize("case", WORKING_CASES)
def test_fixture_equals_cells_in_order(case: str, tmp_path: Path) -> None:
    folder = FIXTURES / case
    overrides = json.loads((folder / "overrides.json").read_text())
    check(folder / "input.ipynb", case, tmp_path, overrides)


def test_example_equals_cells_in_order(tmp_path: Path) -> None:
    check(EXAMPLE, "churn_deploy", tmp_path, {"n_customers": 40, "seed": 3, "threshold": 0.3})
