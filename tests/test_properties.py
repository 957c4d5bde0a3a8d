"""Property: for generated multi-cell programs, run() equals the cells run in order.

Programs are drawn so that the cells run without error in a notebook: every read is of a name
bound on every path before it. Each one is lifted in memory (no formatting, no files) and its
module executed, with the notebook's parameters and with overrides. A lift may refuse (a
function whose names are rebound across steps): that is counted, never a wrong result.

`NB2PROD_PROPERTY_EXAMPLES=5000 pytest tests/test_properties.py --hypothesis-show-statistics`
runs a larger sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nb2prod.analysis.facts import Found
from nb2prod.analysis.selection import examine_cells, select
from nb2prod.build import _cell_digest
from nb2prod.caching.memo import Memo
from nb2prod.caching.store import Pack
from nb2prod.emit import Target
from nb2prod.emit.module import render, step_codes
from nb2prod.errors import NotebookError
from nb2prod.lift import lift
from nb2prod.notebook.reader import Cell, Notebook

from conftest import MemoryCache
from reference import run_cells

EXAMPLES = int(os.environ.get("NB2PROD_PROPERTY_EXAMPLES", "300"))
SCALARS = ("a", "b", "c", "d")
PARAMETERS = {"p": 3, "q": 5}


@dataclass
class Program:
    """A notebook being drawn: its cells and the names bound on every path so far."""

    cells: list[str] = field(default_factory=list)
    bound: set[str] = field(default_factory=lambda: set(PARAMETERS))
    lists: set[str] = field(default_factory=set)
    functions: dict[str, str] = field(default_factory=dict)  # name -> the name it reads


def _expr(draw: st.DrawFn, program: Program) -> str:
    scalars = sorted((program.bound - program.lists) & {*SCALARS, *PARAMETERS, "K"})
    options = [str(draw(st.integers(0, 9)))]
    if scalars:
        name = draw(st.sampled_from(scalars))
        options += [f"{name} + {draw(st.integers(0, 3))}", f"{name} * 2", f"({name} - 1)"]
    if program.lists:
        options.append(f"len({draw(st.sampled_from(sorted(program.lists)))})")
    callable_now = sorted(f for f, free in program.functions.items() if free in program.bound)
    if callable_now and scalars:
        function = draw(st.sampled_from(callable_now))
        options.append(f"{function}({draw(st.sampled_from(scalars))})")
    return draw(st.sampled_from(options))


def _statement(draw: st.DrawFn, program: Program) -> str:
    kind = draw(
        st.sampled_from(
            [
                *("assign", "augment", "if", "if_else", "loop", "comprehension", "delete"),
                *("walrus", "swap", "list", "append", "function", "constant", "while"),
            ]
        )
    )
    target = draw(st.sampled_from(SCALARS))
    scalars = sorted((program.bound - program.lists) & set(SCALARS))
    value = _expr(draw, program)
    if kind == "augment" and target in program.bound - program.lists:
        return f"{target} += {value}"
    if kind == "if":
        condition = _expr(draw, program)
        program.lists.discard(target)
        return f"if {condition} > 4:\n    {target} = {value}"  # binds only on one path
    if kind == "if_else":
        condition = _expr(draw, program)
        program.bound.add(target)
        program.lists.discard(target)
        return f"if {condition} % 2:\n    {target} = {value}\nelse:\n    {target} = 1"
    if kind == "loop" and target in program.bound - program.lists:
        return f"for i in range({draw(st.integers(0, 3))}):\n    {target} = {target} + i"
    if kind == "while" and target in program.bound - program.lists:
        return f"while {target} > 20:\n    {target} -= 7"
    if kind == "comprehension":
        shadow = draw(st.sampled_from(SCALARS))
        program.bound.add("squares")
        program.lists.add("squares")
        return f"squares = [{shadow} * {shadow} for {shadow} in range({draw(st.integers(0, 4))})]"
    if kind == "delete" and scalars:
        name = draw(st.sampled_from(scalars))
        program.bound.discard(name)
        return f"del {name}"
    if kind == "walrus":
        other = draw(st.sampled_from(SCALARS))
        program.bound |= {target, other}
        program.lists -= {target, other}
        return f"{other} = ({target} := {value}) + 1"
    if kind == "swap" and len(scalars) >= 2:
        first, second = draw(st.permutations(scalars))[:2]
        return f"{first}, {second} = {second}, {first}"
    if kind == "list":
        second = _expr(draw, program)
        program.bound.add("items")
        program.lists.add("items")
        return f"items = [{value}, {second}]"
    if kind == "append" and "items" in program.bound:
        return f"items.append({value})\ntable = {{'n': len(items)}}\ntable['n'] += 1"
    if kind == "function" and scalars:
        name = f"f{len(program.functions)}"
        free = draw(st.sampled_from(scalars))
        program.functions[name] = free
        program.bound.add(name)
        return f"def {name}(v):\n    return v + {free}"
    if kind == "constant" and "K" not in program.bound:
        program.bound.add("K")
        return "K = 7"
    program.bound.add(target)
    program.lists.discard(target)
    return f"{target} = {value}"


@st.composite
def programs(draw: st.DrawFn) -> list[str]:
    """The cells of a notebook: a parameters cell, then 1 to 5 deploy cells."""
    program = Program()
    cells = ["parameters: " + "\n".join(f"{k} = {v}" for k, v in PARAMETERS.items())]
    for index in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            cells.append(f"md: ## Step {index}")
        statements = [_statement(draw, program) for _ in range(draw(st.integers(1, 4)))]
        cells.append("deploy: " + "\n".join(statements))
    shown = sorted(program.bound - set(program.functions))
    cells.append("deploy: (" + ", ".join(shown) + ",)")
    return cells


def _notebook(cells: list[str]) -> Notebook:
    built = []
    for index, text in enumerate(cells, start=1):
        kind, _, source = text.partition(": ")
        if kind == "md":
            built.append(Cell(index, "markdown", source))
        else:
            built.append(Cell(index, "code", source, (kind,)))
    return Notebook(tuple(built))


def _module(notebook: Notebook, memory: MemoryCache) -> str:
    """The pipeline module, unformatted, with cells and steps memoised as a build does."""
    memo = Memo(Pack(memory, "notebook"))
    examine = memo.wrap("cell", examine_cells, digest=_cell_digest, kind=Found)
    steps = memo.wrap("step", step_codes, digest=lambda step: step.identity(), kind=str)
    plan = lift(select(notebook, examine))
    source = render(plan, Target("generated", "generated.ipynb", "."), steps(plan.steps))  # type: ignore[arg-type]
    memo.save()
    return source


def _lifted_run(notebook: Notebook) -> Any:
    memory = MemoryCache()
    source = _module(notebook, memory)
    again = _module(notebook, memory)
    assert again == source, "the facts and steps kept in the cache must give the same module"
    namespace: dict[str, Any] = {"__name__": "generated_pipeline"}
    exec(compile(source, "<generated pipeline>", "exec"), namespace)
    return namespace["run"]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(-3, 12), st.integers(-3, 12))
def test_run_equals_cells_in_order(cells: list[str], p: int, q: int) -> None:
    notebook = _notebook(cells)
    try:
        run = _lifted_run(notebook)
    except NotebookError as refused:
        event(f"refused: {refused.diagnostic.message.split(';')[0][:60]}")
        return
    event("converted")
    assert run() == run_cells(notebook)
    assert run() == run(), "two calls of run() must agree"
    assert run(p=p, q=q) == run_cells(notebook, {"p": p, "q": q})
