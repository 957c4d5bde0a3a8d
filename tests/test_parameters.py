"""A free-form parameters cell: one parameter per assigned name, the other statements first in
run(), in the cell's order, after the parameters are bound."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from nb2prod.analysis.selection import select
from nb2prod.build import Status
from nb2prod.lift import Plan, lift
from nb2prod.lift.parameters import PROLOGUE
from nb2prod.naming import snake_case
from nb2prod.notebook.reader import Cell, Notebook

from conftest import build, load_package
from notebooks import write_notebook

PROLOGUE_STEP = snake_case(PROLOGUE)


def plan_of(parameters: str, deploy: str = "done = True") -> Plan:
    cells = (Cell(1, "code", parameters, ("parameters",)), Cell(2, "code", deploy, ("deploy",)))
    return lift(select(Notebook(cells)))


def statements(plan: Plan) -> list[str]:
    """The code the parameters cell runs at the start of run()."""
    first = plan.steps[0]
    if first.name != PROLOGUE_STEP:
        return []
    return [cst.Module([node]).code.strip() for node in first.nodes() if node is not None]


CELLS = [
    pytest.param("n = 3", [("n", "3")], [], id="an assignment is a parameter"),
    pytest.param("low, high = 2, 9", [("low", "2"), ("high", "9")], [], id="one per name"),
    pytest.param("[a, b] = (1, 'x')", [("a", "1"), ("b", "'x'")], [], id="a list of names"),
    pytest.param("a = b = 0", [("a", "0"), ("b", "0")], [], id="one immutable value"),
    pytest.param("a = b = []", [], ["# cell 1\na = b = []"], id="one list for two names runs"),
    pytest.param(
        "q, r = divmod(7, 2)", [], ["# cell 1\nq, r = divmod(7, 2)"], id="unpacking a call runs"
    ),
    pytest.param(
        "print('start')\nn = 3", [("n", "3")], ["# cell 1\nprint('start')"], id="a call runs"
    ),
    pytest.param("seed: int = 7", [("seed", "7")], [], id="an annotated assignment"),
    pytest.param('"""Run settings."""\nn = 1\nn', [("n", "1")], [], id="notes run as nothing"),
    pytest.param(
        "steps = [1]\nsteps.append(2)\ncount = len(steps)",
        [("steps", "[1]")],
        ["# cell 1\nsteps.append(2)", "count = len(steps)"],
        id="computed after a change in place: runs in order",
    ),
    pytest.param("n = 3\nn += 1", [("n", "3")], ["# cell 1\nn += 1"], id="rebound by code"),
    pytest.param("n = 3\nn = 5", [("n", "5")], [], id="assigned twice: the last value"),
    pytest.param(
        "n = 3\nprint(n)\nn = 5",
        [("n", "3")],
        ["# cell 1\nprint(n)", "n = 5"],
        id="assigned again after code read it",
    ),
    pytest.param("n = 3\nn = n * 2", [("n", "3")], ["# cell 1\nn = n * 2"], id="from itself"),
    pytest.param(
        "n = 1\nm = n\nn = 2",
        [("n", "1"), ("m", "n")],
        ["# cell 1\nn = 2"],
        id="assigned again after a default read it",
    ),
    pytest.param(
        "a = 0\na, b = 1, a", [("a", "0")], ["# cell 1\na, b = 1, a"], id="a swap-like line"
    ),
    pytest.param(
        "for i in range(3):\n    pass\ni = 10",
        [],
        ["# cell 1\nfor i in range(3):\n    pass", "i = 10"],
        id="a name a loop bound",
    ),
    pytest.param(
        "x = 1; print(x); y = 2",
        [("x", "1"), ("y", "2")],
        ["# cell 1\nprint(x)"],
        id="statements of one line",
    ),
    pytest.param(
        "import os\nroot = os.getcwd()\nos.makedirs('out', exist_ok=True)",
        [("root", "os.getcwd()")],
        ["# cell 1\nos.makedirs('out', exist_ok=True)"],
        id="imports are hoisted",
    ),
]


@pytest.mark.parametrize(("source", "parameters", "runs"), CELLS)
def test_free_form_parameters_cell(
    source: str, parameters: list[tuple[str, str]], runs: list[str]
) -> None:
    plan = plan_of(source)
    assert [(p.name, p.default) for p in plan.parameters] == parameters
    assert statements(plan) == runs


def test_nothing_that_can_be_lifted_is_refused() -> None:
    """Blocks and definitions in a parameters cell run as they are written."""
    plan = plan_of(
        "n = 3\ndef scaled(x):\n    return x * n\nif n > 2:\n    mode = 'big'\nelse:\n    mode = 'small'",
        "result = scaled(2), mode\nresult",
    )
    assert [p.name for p in plan.parameters] == ["n"]
    assert plan.steps[0].name == PROLOGUE_STEP


def test_statements_run_after_the_parameters_are_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run()'s arguments stand for the values the cell assigns; its other statements then run
    with them, in order, before the deploy cells."""
    notebook = write_notebook(
        tmp_path / "bounds.ipynb",
        [
            "parameters: low, high = 2, 9\nprint('bounds', low, high)\nspan = high - low\n"
            "sizes = list(range(span))\nsizes.append(high)",
            "deploy: (low, high, span, len(sizes), sizes[-1])",
        ],
    )
    result = build(notebook, tmp_path / "out", name="bounds")
    assert result.status is Status.WRITTEN, result.messages
    with load_package(tmp_path / "out" / "bounds", "bounds") as pipeline:
        assert pipeline.run() == (2, 9, 7, 8, 9)
        assert capsys.readouterr().out == "bounds 2 9\n"
        assert pipeline.run(low=5, high=6) == (5, 6, 1, 2, 6)
        assert capsys.readouterr().out == "bounds 5 6\n"
