"""Property: for generated multi-cell programs, run() equals the cells run in order.

Programs are drawn so that the cells run without error in a notebook: every read is of a name
bound on every path before it. Besides assignments, branches, loops, comprehensions and
functions reading notebook names, they hold the forms whose scoping is easy to get wrong:
factories, decorators with functools.wraps, lambdas over `self` in methods and class
attributes read through it, nonlocal counters, a counter rebound with `global`, functions
defined again and used across steps, models refit under the same name, an import bound again,
and `eval` of a literal. Each one is lifted in memory (no formatting, no files) and its
module executed, with the notebook's parameters and with overrides. A lift may refuse (a
function whose names are rebound across steps): that is counted, never a wrong result.

`NB2PROD_PROPERTY_EXAMPLES=5000 pytest tests/test_properties.py --hypothesis-show-statistics`
runs a larger sample.
"""

from __future__ import annotations

import os
import re
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
    """A notebook being drawn: its cells and the names bound on every path so far.

    `functions` maps each function taking one number to the names a call needs bound (the
    scalars it reads, the functions it calls); `hidden` are bound names the result leaves out
    (functions, classes, objects).
    """

    cells: list[str] = field(default_factory=list)
    bound: set[str] = field(default_factory=lambda: set(PARAMETERS))
    lists: set[str] = field(default_factory=set)
    functions: dict[str, frozenset[str]] = field(default_factory=dict)
    classes: dict[str, frozenset[str]] = field(default_factory=dict)  # with a method `shifted`
    hidden: set[str] = field(default_factory=set)
    made: int = 0  # how many definitions so far, to name new ones

    def fresh(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}{self.made}"

    def callable_now(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether a call of `name` now runs: every scalar it reads, and every function it
        calls, is bound (and callable, in turn)."""
        if name not in self.bound or name in seen:
            return name in self.bound
        return all(
            self.callable_now(n, seen | {name}) if n in self.functions else n in self.bound
            for n in self.functions.get(name, frozenset())
        )

    def define(self, name: str, needs: set[str]) -> None:
        """A function of one number, which needs `needs` bound when it is called."""
        self.functions[name] = frozenset(needs)
        self.keep(name)

    def keep(self, *names: str) -> None:
        """Bound names the result leaves out: functions, classes, objects."""
        self.bound.update(names)
        self.hidden.update(names)
        self.lists.difference_update(names)

    def bind(self, name: str) -> None:
        """A number bound on every path."""
        self.bound.add(name)
        self.lists.discard(name)


def _scalars(program: Program) -> list[str]:
    readable = {*SCALARS, *PARAMETERS, "K", "counter"}
    return sorted((program.bound - program.lists - program.hidden) & readable)


def _expr(draw: st.DrawFn, program: Program) -> str:
    scalars = _scalars(program)
    options = [str(draw(st.integers(0, 9)))]
    if scalars:
        name = draw(st.sampled_from(scalars))
        options += [f"{name} + {draw(st.integers(0, 3))}", f"{name} * 2", f"({name} - 1)"]
    if program.lists:
        options.append(f"len({draw(st.sampled_from(sorted(program.lists)))})")
    callable_now = sorted(f for f in program.functions if program.callable_now(f))
    if callable_now and scalars:
        function = draw(st.sampled_from(callable_now))
        options.append(f"{function}({draw(st.sampled_from(scalars))})")
    if "bump" in program.bound and "counter" in program.bound:
        options.append("bump()")
    usable = sorted(c for c, needs in program.classes.items() if needs <= program.bound)
    if usable and scalars:
        cls = draw(st.sampled_from(usable))
        options.append(f"{cls}(1).shifted({draw(st.sampled_from(scalars))})")
    return draw(st.sampled_from(options))


def _scoped(draw: st.DrawFn, program: Program, kind: str, target: str) -> str | None:
    """Nested scopes: factories, decorators, methods, nonlocal counters, globals."""
    scalars = _scalars(program)
    if kind == "factory":
        maker, made = program.fresh("make"), program.fresh("add")
        value = _expr(draw, program)
        program.keep(maker)
        program.define(made, set())
        return (
            f"def {maker}(k):\n    def inner(v):\n        return v + k\n\n    return inner\n\n\n"
            f"{made} = {maker}({value})"
        )
    if kind == "decorated" and scalars:
        deco, name = program.fresh("deco"), program.fresh("f")
        free = draw(st.sampled_from(scalars))
        program.keep(deco)
        program.define(name, {free})
        return (
            f"import functools\n\n\ndef {deco}(fn):\n    @functools.wraps(fn)\n"
            "    def wrapper(v):\n        return fn(v) + 1\n\n    return wrapper\n\n\n"
            f"@{deco}\ndef {name}(v):\n    return v * {free}"
        )
    if kind == "method":
        cls, obj = program.fresh("C"), program.fresh("obj")
        value = _expr(draw, program)
        free = draw(st.sampled_from([*scalars, "1"]))
        program.keep(cls, obj)
        program.classes[cls] = frozenset({free} - {"1"})
        program.bind(target)
        return (
            f"class {cls}:\n    base = {draw(st.integers(0, 5))}\n\n"
            "    def __init__(self, w):\n        self.w = w\n\n"
            "    def scaled(self, xs):\n        return list(map(lambda x: x * self.w + self.base, xs))\n\n"
            f"    def shifted(self, v):\n        return v + self.base + {free}\n"
            f"\n\n{obj} = {cls}({value})\n{target} = sum({obj}.scaled([1, 2]))"
        )
    if kind == "counter":
        maker, tick = program.fresh("counter"), program.fresh("tick")
        step = _expr(draw, program)
        program.keep(maker, tick)
        program.bind(target)
        return (
            f"def {maker}():\n    count = 0\n\n    def bump(step):\n        nonlocal count\n"
            "        count += step\n        return count\n\n    return bump\n\n\n"
            f"{tick} = {maker}()\n{target} = {tick}({step}) + {tick}(1)"
        )
    if kind == "global" and "counter" not in program.bound:
        program.bind("counter")
        program.keep("bump")
        return (
            "counter = 0\n\n\ndef bump():\n    global counter\n    counter += 1\n    return counter"
        )
    if kind == "redefine" and program.functions and scalars:
        name = draw(st.sampled_from(sorted(program.functions)))
        free = draw(st.sampled_from(scalars))
        program.define(name, {free})
        return f"def {name}(v):\n    return v * 3 - {free}"
    if kind == "caller" and program.functions:
        callee = draw(st.sampled_from(sorted(program.functions)))
        name = program.fresh("g")
        program.define(name, {callee})
        return f"def {name}(v):\n    return {callee}(v) + 1"
    if kind == "imported":
        program.define("floor", set())
        return "from math import floor"
    if kind == "rebind_import" and "floor" in program.functions:
        program.define("floor", set())
        return "floor = lambda v: v - 1"
    callable_now = sorted(f for f in program.functions if program.callable_now(f))
    if kind == "call" and callable_now and scalars:
        function = draw(st.sampled_from(callable_now))
        argument = draw(st.sampled_from(scalars))
        program.bind(target)
        return f"{target} = {function}({argument})"
    refits = sorted((f, n) for f in callable_now for n in program.functions[f] if n in SCALARS)
    if kind == "refit" and refits:
        function, read = draw(st.sampled_from(refits))  # a model refit under the same name
        value = _expr(draw, program)
        program.bind(target)
        return f"{read} = {value}\n{target} = {function}({read})"
    if kind == "eval" and scalars:
        read = draw(st.sampled_from(scalars))
        program.bind(target)
        return f"{target} = eval('{read} + 1')"
    return None


def _statement(draw: st.DrawFn, program: Program) -> str:
    kind = draw(
        st.sampled_from(
            [
                *("assign", "augment", "if", "if_else", "loop", "comprehension", "delete"),
                *("walrus", "swap", "list", "append", "function", "constant", "while"),
                *("factory", "decorated", "method", "counter", "global", "redefine", "caller"),
                *("imported", "rebind_import", "eval"),
                *("function", "call", "refit") * 2,  # functions used, their names rebound
            ]
        )
    )
    target = draw(st.sampled_from(SCALARS))
    scoped = _scoped(draw, program, kind, target)
    if scoped is not None:
        return scoped
    scalars = sorted((program.bound - program.lists - program.hidden) & set(SCALARS))
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
        name = program.fresh("f")
        free = draw(st.sampled_from(scalars))
        program.define(name, {free})
        if draw(st.booleans()):
            return f"{name} = lambda v: v - {free}"
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
    shown = sorted(program.bound - program.hidden)
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


# Marks in a generated module of the forms the generator aims at, counted in the statistics.
FEATURES = {
    "# defined again here": "with a def defined again after a rebinding",
    "globals().pop(": "with a global a function rebinds",
    "    def inner(v):": "with a factory",
    "nonlocal count": "with a nonlocal counter",
    "@functools.wraps": "with a decorator",
    "lambda x: x * self.w": "with a lambda over self",
    "    from math import floor": "with an import kept in its step",
}


def _lifted_run(notebook: Notebook) -> Any:
    memory = MemoryCache()
    source = _module(notebook, memory)
    again = _module(notebook, memory)
    assert again == source, "the facts and steps kept in the cache must give the same module"
    for mark, label in FEATURES.items():
        if mark in source:
            event(label)
    defined = re.findall(r"def (\w+)\(v\):", source)
    if len(defined) > len(set(defined)):
        event("with a function defined more than once")
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
