"""The plan: what each step takes and returns, where definitions go, and what is refused."""

from __future__ import annotations

import sys
from typing import Any

import libcst as cst
import pytest

from nb2prod.analysis.facts import flows_of
from nb2prod.analysis.selection import select
from nb2prod.emit import Target
from nb2prod.emit.module import render, step_codes
from nb2prod.errors import NotebookError
from nb2prod.lift import Plan, lift
from nb2prod.notebook.reader import Cell, Notebook

from reference import run_cells


def notebook_of(*cells: str) -> Notebook:
    """Cells written as `"deploy: code"`, `"parameters: code"`, `"md: text"`, or
    `"explore: code"` for an unmarked cell."""
    built = []
    for index, text in enumerate(cells, start=1):
        kind, _, source = text.partition(": ")
        if kind == "md":
            built.append(Cell(index, "markdown", source))
        else:
            built.append(Cell(index, "code", source, () if kind == "explore" else (kind,)))
    return Notebook(tuple(built))


def plan_of(*cells: str) -> Plan:
    """A plan from cells written as for `notebook_of`."""
    return lift(select(notebook_of(*cells)))


def module_of(*cells: str) -> str:
    """The pipeline module of the cells, unformatted."""
    plan = plan_of(*cells)
    return render(plan, Target("generated", "generated.ipynb", "."), step_codes(plan.steps))


def run_both(*cells: str) -> tuple[Any, Any]:
    """What the generated run() returns, and what the cells give run in order."""
    namespace: dict[str, Any] = {"__name__": "generated_pipeline"}
    exec(compile(module_of(*cells), "<generated pipeline>", "exec"), namespace)
    return namespace["run"](), run_cells(notebook_of(*cells))


def signature(plan: Plan) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(s.name, s.params, s.returns) for s in plan.steps]


STEPS = [
    pytest.param(
        ["md: ## Load", "deploy: rows = [1, 2]", "md: ## Use", "deploy: total = sum(rows)\ntotal"],
        [("load", (), ("rows",)), ("use", ("rows",), ())],
        id="a value flows to the step that reads it",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: x = 1",
            "md: ## B",
            "deploy: if c:\n    x = 2",
            "md: ## C",
            "deploy: x",
        ],
        None,
        id="undefined condition is refused",
    ),
    pytest.param(
        [
            "parameters: c = True",
            "md: ## A",
            "deploy: x = 1",
            "md: ## B",
            "deploy: if c:\n    x = 2",
            "md: ## C",
            "deploy: x",
        ],
        [("a", (), ("x",)), ("b", ("c", "x"), ("x",)), ("c_step", ("x",), ())],
        id="a name bound on some paths is passed in and out",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: x = 1\ny = 2",
            "md: ## B",
            "deploy: x = 5\nz = x + y",
            "md: ## C",
            "deploy: z",
        ],
        [("a", (), ("y",)), ("b", ("y",), ("z",)), ("c", ("z",), ())],
        id="a name rebound before it is read does not flow",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: data = [3, 1]",
            "md: ## B",
            "deploy: data.sort()",
            "md: ## C",
            "deploy: data",
        ],
        [("a", (), ("data",)), ("b", ("data",), ()), ("c", ("data",), ())],
        id="in-place mutation needs no return",
    ),
]


@pytest.mark.parametrize(("cells", "expected"), STEPS)
def test_step_inputs_and_outputs(
    cells: list[str], expected: list[tuple[str, tuple[str, ...], tuple[str, ...]]] | None
) -> None:
    if expected is None:
        with pytest.raises(NotebookError):
            plan_of(*cells)
        return
    assert signature(plan_of(*cells)) == expected


def test_each_step_says_which_inputs_it_may_change_in_place() -> None:
    plan = plan_of(
        "md: ## Load",
        "deploy: rows = [3, 1]\nseen = {1}\nlimit = 2\nframe = object()",
        "md: ## Change",
        "deploy: rows.sort()\nseen |= {2}\nframe.refresh()\ntotal = limit + len(rows)",
        "md: ## Use",
        "deploy: (rows, seen, total)",
    )
    assert [step.changed_in_place for step in plan.steps] == [(), ("rows", "seen", "frame"), ()]


def test_constant_read_by_a_function_moves_to_module_level() -> None:
    plan = plan_of(
        "deploy: LIMIT = 3\nrate = 2\n\n\ndef capped(v):\n    return min(v, LIMIT)",
        "deploy: capped(rate * 5)",
    )
    module = [(piece.constant, piece.name) for _, piece in plan.definitions]
    assert module == [("LIMIT", None), (None, "capped")]
    assert signature(plan) == [("step_1", (), ())]


def test_function_reading_a_step_value_is_a_closure_in_that_step() -> None:
    plan = plan_of(
        "md: ## Define",
        "deploy: def predict(x):\n    return model * x",
        "md: ## Fit",
        "deploy: model = int('3')",
        "md: ## Score",
        "deploy: predict(2)",
    )
    assert plan.definitions == ()
    assert signature(plan) == [("fit", (), ("predict",)), ("score", ("predict",), ())]


REFUSED = [
    pytest.param(
        ["parameters: import os\nroot = '.'", "deploy: os = None"],
        (2, 1),
        "`os` is bound here and by an import",
        id="rebinding an import of the parameters cell",
    ),
    pytest.param(
        ["parameters: n = 0", "deploy: def bump():\n    global n\n    n += 1", "deploy: bump()\nn"],
        (2, 2),
        "`bump` rebinds `n` with `global`, and `n` is a parameter",
        id="a global that is a parameter",
    ),
    pytest.param(
        [
            "parameters: n = 0",
            "deploy: def counted(fn):\n    def wrapper():\n        global n\n        n += 1\n"
            "        return fn()\n\n    return wrapper",
            "deploy: 1",
        ],
        (2, 3),
        "`counted.wrapper` rebinds `n` with `global`",
        id="the message names the wrapper that declares the global",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\nclass Scaled:\n    def of(self, x):\n        return x * k",
            "md: ## B",
            "deploy: a = Scaled().of(1)",
            "md: ## C",
            "deploy: k = 3\nScaled().of(1)",
        ],
        (2, 4),
        "`Scaled` reads `k`, which cell 6 binds again after cell 4 uses `Scaled`; `Scaled` is a "
        "class, and its instances keep it, so a copy defined for the new value cannot stand in",
        id="a class used before a name its methods read is rebound",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\ndef f(x):\n    return x * k",
            "md: ## B",
            "deploy: handlers = [f]",
            "md: ## C",
            "deploy: k = 3\n[h(1) for h in handlers] + [f(1)]",
        ],
        (2, 4),
        "`f` reads `k`, which cell 6 binds again after cell 4 uses `f`; cell 4 keeps `f` as a value",
        id="a function kept as a value before a name it reads is rebound",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\ndef f(xs):\n    return (x * k for x in xs)",
            "md: ## B",
            "deploy: lazy = f([1])",
            "md: ## C",
            "deploy: k = 3\nlist(lazy) + list(f([1]))",
        ],
        (2, 4),
        "`f` makes a generator that reads its names later",
        id="a function whose generator reads a rebound name later",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\ndef f(x):\n    return x * k",
            "md: ## B",
            "deploy: handlers = [lambda v: f(v) + 1]\na = handlers[0](1)",
            "md: ## C",
            "deploy: k = 3\n(a, f(1), handlers[0](1))",
        ],
        (2, 4),
        "cell 4 keeps `f` as a value",
        id="a lambda kept in a list that calls the function may call the old one later",
    ),
    pytest.param(
        ["deploy: y = x + 1"], (1, 1), "`x` (read in cell 1; no cell binds it)", id="undefined name"
    ),
    pytest.param(
        ["explore: limit = 3", "deploy: def capped(v):\n    return min(v, limit)", "deploy: 1"],
        (2, 1),
        "`limit` (read in cell 2; cell 1 binds it: mark cell 1 deploy, or make it a parameter)",
        id="a name a function reads that only an unmarked cell binds",
    ),
    pytest.param(
        [
            "deploy: class Gift:\n    weight = 2\n\n\nhorses = [Gift()]",
            "deploy: def plot_gift(g):\n    return [x.weight for x in eval(g)]",
            "deploy: plot_gift('horses')",
        ],
        (2, 2),
        "`eval(g)` runs code that reads notebook names nb2prod cannot see",
        id="eval of a value in a function",
    ),
    pytest.param(
        ["deploy: import json", "deploy: x = 1\nnames = json.dumps(sorted(globals()))"],
        (2, 2),
        "`globals()` hands on the notebook's namespace",
        id="globals() passed on",
    ),
    pytest.param(
        ["deploy: ranked = sorted([2, 1], key=lambda v: v * missing)", "deploy: 1"],
        (1, 1),
        "`missing` (read in cell 1; no cell binds it)",
        id="a lambda passed on is taken to be called where it is made",
    ),
]


@pytest.mark.parametrize(("cells", "where", "message"), REFUSED)
def test_refused(cells: list[str], where: tuple[int, int], message: str) -> None:
    with pytest.raises(NotebookError) as caught:
        plan_of(*cells)
    diagnostic = caught.value.diagnostic
    assert (diagnostic.cell, diagnostic.line) == where
    assert message in diagnostic.message


def step_code(plan: Plan) -> list[str]:
    """Each step function's code, black-formatted."""
    from nb2prod.emit.module import step_codes
    from nb2prod.output.formatting import format_python

    return [format_python(code) for code in step_codes(plan.steps)]


def imports_code(plan: Plan) -> str:
    from nb2prod.emit.text import code

    return "".join(code(statement) for statement in plan.imports)


FALLBACKS = [
    pytest.param(
        "try:\n    import ujson as json\nexcept ImportError:\n    import json", True, id="ujson"
    ),
    pytest.param(
        "try:\n    import tomllib\nexcept ModuleNotFoundError:\n    import tomli as tomllib",
        True,
        id="tomli",
    ),
    pytest.param(
        "try:\n    import numba\n    HAVE_NUMBA = True\nexcept (ImportError, ModuleNotFoundError):"
        "\n    numba = None\n    HAVE_NUMBA = False",
        True,
        id="a flag set to literals",
    ),
    pytest.param("try: import ujson as json\nexcept ImportError: import json", True, id="inline"),
    pytest.param(
        "try:\n    import ujson as json\nexcept Exception:\n    import json", False, id="broad"
    ),
    pytest.param(
        "try:\n    import ujson as json\nexcept ImportError:\n    json = dict()", False, id="call"
    ),
    pytest.param(
        "try:\n    import x\nexcept ImportError:\n    import y\nfinally:\n    pass",
        False,
        id="finally",
    ),
    pytest.param("try:\n    x = 1\nexcept ImportError:\n    x = 2", False, id="no import"),
]


@pytest.mark.parametrize(("code", "hoisted"), FALLBACKS)
def test_import_fallbacks_are_hoisted_whole(code: str, hoisted: bool) -> None:
    plan = plan_of(f"deploy: {code}", "md: ## Use", "deploy: x = 1\nx")
    assert (imports_code(plan).strip() == code) is hoisted
    assert (plan.steps[0].name == "use") is hoisted


def test_a_hoisted_fallback_is_not_threaded_through_run() -> None:
    plan = plan_of(
        "deploy: try:\n    import ujson as json\nexcept ImportError:\n    import json",
        "md: ## Dump",
        "deploy: text = json.dumps([1])",
        "md: ## Show",
        "deploy: json.loads(text)",
    )
    assert signature(plan) == [("dump", (), ("text",)), ("show", ("text",), ())]


READS = [
    pytest.param(["deploy: x = 1\nx\nx.real\ny = x"], "x = 1\ny = x", id="a name and an attribute"),
    pytest.param(
        ["deploy: x = [1]\nx[0]\nlen(x)"], "x = [1]\nx[0]\nlen(x)", id="calls, subscripts"
    ),
    pytest.param(
        ["parameters: c = True", "deploy: if c:\n    y = 1\ny"],
        "if c:\ny = 1\ny",
        id="a name that may be unbound raises as in the notebook",
    ),
    pytest.param(["deploy: x = 1\ndel x\nx"], "x = 1\ndel x\nx", id="so does a deleted one"),
]


@pytest.mark.parametrize(("cells", "body"), READS)
def test_lines_that_only_show_a_value_are_dropped(cells: list[str], body: str) -> None:
    """A bare name or attribute read does nothing in a step, unless the name may be unbound."""
    (code,) = step_code(plan_of(*cells, "deploy: done = True"))
    lines = [line.strip() for line in code.splitlines()[2:] if not line.strip().startswith("#")]
    assert lines == [*body.split("\n"), "done = True"]


def test_a_copy_of_a_copy_says_once_why_it_is_there() -> None:
    plan = plan_of(
        "md: ## One",
        "deploy: k = 1\n\n\ndef f():\n    return k\n\n\na = f()",
        "md: ## Two",
        "deploy: k = 2\nb = f()",
        "md: ## Three",
        "deploy: k = 3\nc = f()",
    )
    for code in step_code(plan)[1:]:
        assert code.count("# defined again here: it reads `k`") == 1, code


def test_the_result_is_never_dropped() -> None:
    plan = plan_of("deploy: x = 1\nx.real", "deploy: x.real")
    assert [line.strip() for line in step_code(plan)[0].splitlines()[2:]] == [
        "# cell 1",
        "x = 1",
        "# cell 2",
        "return x.real",
    ]


def test_an_undefined_name_read_alone_is_still_an_error() -> None:
    with pytest.raises(NotebookError, match="`metrics` \\(read in cell 1"):
        plan_of("deploy: x = 1\nmetrics", "deploy: x")


def test_no_blank_lines_where_definitions_were_lifted_out() -> None:
    plan = plan_of(
        "deploy: import math\nx = 1\n\n\ndef f(v):\n    return v\n\n\nLIMIT = 3\n\n\n"
        "y = f(x)\n\nz = y + LIMIT\nz"
    )
    (code,) = step_code(plan)
    assert code.splitlines()[2:] == [
        "    # cell 1",
        "    x = 1",
        "    y = f(x)",
        "",
        "    z = y + LIMIT",
        "    return z",
    ]


# Notebooks that are ordinary Python: they build, and run() gives what the cells give in order.
FAITHFUL = [
    pytest.param(
        [
            "deploy: def make_adder(k):\n    def add(v):\n        return v + k\n    return add",
            "deploy: make_adder(2)(3)",
        ],
        id="a factory's inner function reads the factory's parameter",
    ),
    pytest.param(
        [
            "deploy: import functools\n\n\ndef logged(fn):\n    @functools.wraps(fn)\n"
            "    def wrapper(*args, **kwargs):\n        return fn(*args, **kwargs) + 1\n"
            "    return wrapper",
            "deploy: @logged\ndef double(x):\n    return 2 * x\n\n\n(double(4), double.__name__)",
        ],
        id="a decorator's wrapper reads the decorated function",
    ),
    pytest.param(
        [
            "deploy: def rank(rows, col):\n    return sorted(rows, key=lambda r: r[col])",
            "deploy: rank([(2, 'b'), (1, 'a')], 1)",
        ],
        id="a sort key reads the function's parameter",
    ),
    pytest.param(
        [
            "deploy: class Layer:\n    scale = 3\n\n    def __init__(self, w):\n"
            "        self.w = w\n\n    def call(self, xs):\n"
            "        return list(map(lambda x: x * self.w * self.scale, xs))",
            "deploy: Layer(2).call([1, 2])",
        ],
        id="a lambda in a method reads self and a class attribute through it",
    ),
    pytest.param(
        [
            "deploy: def counter():\n    n = 0\n\n    def bump():\n        nonlocal n\n"
            "        n += 1\n        return n\n\n    return bump",
            "deploy: tick = counter()\ntick()\ntick()",
        ],
        id="a nonlocal counter",
    ),
    pytest.param(
        [
            "deploy: from collections import Counter",
            "deploy: Counter = Counter('abracadabra')",
            "deploy: Counter['a']",
        ],
        id="an imported name bound again keeps its import where the notebook has it",
    ),
    pytest.param(
        [
            "deploy: try:\n    import ujson as json\nexcept ImportError:\n    import json",
            "deploy: text = json.dumps([1])",
            "deploy: json = {'text': text}\njson",
        ],
        id="a name an import fallback binds is bound again: the try stays where it is, whole",
    ),
    pytest.param(
        [
            "md: ## Metrics",
            "deploy: import math\n\n\ndef auc(xs):\n    return math.fsum(xs)",
            "md: ## Score",
            "deploy: score = auc([0.5, 0.25])",
            "md: ## Later",
            "deploy: from math import fsum as auc\n(score, auc([1.0, 2.0]))",
        ],
        id="a name a def binds is imported later",
    ),
    pytest.param(
        [
            "deploy: import http.client\nimport json",
            "deploy: http = http.client.responses[200]\njson = json.dumps(http)",
            "deploy: (http, json)",
        ],
        id="a module bound again to a value made from it",
    ),
    pytest.param(
        [
            "deploy: def f():\n    return 1",
            "deploy: a = f()",
            "deploy: def f():\n    return 2",
            "deploy: a + f()",
        ],
        id="a function defined twice, in one step",
    ),
    pytest.param(
        [
            "md: ## One",
            "deploy: def f():\n    return 1\n\n\nclass C:\n    n = 1",
            "md: ## Two",
            "deploy: a = f() + C.n",
            "md: ## Three",
            "deploy: def f():\n    return 2\n\n\nclass C:\n    n = 10",
            "md: ## Four",
            "deploy: a + f() + C.n",
        ],
        id="a function and a class defined twice, across steps",
    ),
    pytest.param(
        [
            "deploy: def f():\n    return 1\n\n\ndef g():\n    return f() * 10",
            "deploy: a = g()",
            "deploy: def f():\n    return 2",
            "deploy: a + g()",
        ],
        id="a function that calls a function defined twice",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\ndef f(x):\n    return x * k",
            "md: ## B",
            "deploy: a = f(1)",
            "md: ## C",
            "deploy: k = 3\nb = f(1)",
            "md: ## D",
            "deploy: (a, b, f(1))",
        ],
        id="a function used before a name it reads is rebound is defined again",
    ),
    pytest.param(
        [
            "md: ## Fit",
            "deploy: weight = 2\n\n\ndef predict(x):\n    return x * weight",
            "md: ## Score",
            "deploy: first = predict(3)",
            "md: ## Refit",
            "deploy: weight = 5\nsecond = predict(3)",
            "md: ## Refit again",
            "deploy: weight = 7",
            "md: ## Report",
            "deploy: (first, second, predict(3))",
        ],
        id="a model refit twice under the same name",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\ndef f(x):\n    return x * k\n\n\ndef g(x):\n    return f(x) + 1",
            "md: ## B",
            "deploy: a = g(1)",
            "md: ## C",
            "deploy: k = 3\n(a, g(1))",
        ],
        id="a function that calls a function whose name is rebound, both defined again",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\nf = lambda v: v * k",
            "md: ## B",
            "deploy: a = f(1)",
            "md: ## C",
            "deploy: k = 3\n(a, f(1))",
        ],
        id="a lambda bound to a name is made again after a name it reads is rebound",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\ndef f(x):\n    return x * k",
            "md: ## B",
            "deploy: g = lambda v: f(v) + 1\na = g(1)",
            "md: ## C",
            "deploy: k = 3\n(a, f(1), g(1))",
        ],
        id="a lambda that calls a function whose name it reads is rebound is made again too",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: predict = lambda x: model * x",
            "md: ## B",
            "deploy: model = 3",
            "md: ## C",
            "deploy: predict(2)",
        ],
        id="a lambda made before the model it reads",
    ),
    pytest.param(
        ["deploy: n = 0\n\n\ndef bump():\n    global n\n    n += 1", "deploy: bump()\nbump()\nn"],
        id="a function that rebinds a notebook name with global",
    ),
    pytest.param(
        [
            "deploy: import functools\n\ncalls = 0\n\n\ndef counted(fn):\n"
            "    @functools.wraps(fn)\n    def wrapper(*args):\n        global calls\n"
            "        calls += 1\n        return fn(*args)\n\n    return wrapper",
            "md: ## Use",
            "deploy: @counted\ndef square(x):\n    return x * x\n\n\nsquare(2)",
            "md: ## Again",
            "deploy: calls = 10\nsquare(3)\n(calls, square.__name__)",
        ],
        id="a decorator's wrapper that counts calls in a global",
    ),
    pytest.param(
        [
            "deploy: registry = []\n\n\ndef register(fn):\n    global registry\n"
            "    registry = registry + [fn.__name__]\n    return fn",
            "md: ## Add",
            "deploy: @register\ndef first():\n    pass\n\n\n@register\ndef second():\n    pass",
            "deploy: registry",
        ],
        id="a decorator that rebinds a global registry when it decorates",
    ),
    pytest.param(
        ["deploy: x = 1", "md: ## B", "deploy: global x\nx = x + 1", "md: ## C", "deploy: x"],
        id="a global statement at a cell's top level does nothing",
    ),
    pytest.param(
        ["deploy: x = 1\nx; import os"],
        id="a cell that ends with an import shows nothing",
    ),
    pytest.param(
        [
            "deploy: horses = [3, 4]\nchosen = eval('horses')",
            "md: ## Later",
            "deploy: globals()['total'] = sum(chosen)\nglobals()['total'] += 1",
            "deploy: def doubled():\n    return globals()['total'] * 2\n\n\n"
            "(doubled(), eval('len(horses)'), globals().get('CONFIG', 'default'))",
        ],
        id="eval of a literal and globals() with literal keys",
    ),
    pytest.param(
        [
            "parameters: x = 2",
            "deploy: y = eval(\"globals()['x'] + 1\")\nz = eval(\"eval('x')\")",
            "deploy: (y, z)",
        ],
        id="eval of a literal that holds dynamic forms in turn",
    ),
    pytest.param(
        ["deploy: def eval(expression):\n    return expression * 2", "deploy: eval(21)"],
        id="a notebook's own eval is an ordinary function",
    ),
    pytest.param(
        [
            "deploy: names = sorted(vars(__builtins__))[:3]",
            "deploy: (names, __builtins__.len('ab'))",
        ],
        id="__builtins__ is the builtins module, as in a notebook",
    ),
]


@pytest.mark.parametrize("cells", FAITHFUL)
def test_faithful_translation(cells: list[str]) -> None:
    generated, notebook = run_both(*cells)
    assert generated == notebook


# (cells, the warnings the build gives, as (cell, text) pairs)
WARNINGS = [
    pytest.param(
        ["deploy: rows = [3, 1, 2]", "explore: rows.sort()", "deploy: rows[0]"],
        [(2, "hidden state: this unmarked cell changes `rows`, which deploy cell 3 reads")],
        id="an unmarked cell sorts a deploy list in place",
    ),
    pytest.param(
        ["deploy: seen = {1}", "explore: seen.update({2, 3})", "deploy: len(seen)"],
        [(2, "hidden state: this unmarked cell changes `seen`, which deploy cell 3 reads")],
        id="an unmarked cell updates a deploy set",
    ),
    pytest.param(
        [
            "deploy: class Model:\n    def fit(self, x):\n        self.w = x\n"
            "        return self\n\n\nmodel = Model().fit(1)",
            "explore: model.fit(5)",
            "deploy: model.w",
        ],
        [(2, "hidden state: this unmarked cell changes `model`, which deploy cell 3 reads")],
        id="an unmarked cell refits a deploy model",
    ),
    pytest.param(
        ["deploy: frame = {'a': 1}", "explore: frame.dropna(inplace=True)", "deploy: frame"],
        [(2, "hidden state: this unmarked cell changes `frame`, which deploy cell 3 reads")],
        id="an unmarked cell changes a frame with inplace=True",
    ),
    pytest.param(
        ["deploy: rows = [3, 1, 2]", "explore: rows.copy()\nrows.count(1)", "deploy: rows[0]"],
        [],
        id="known-pure calls change nothing",
    ),
    pytest.param(
        [
            "deploy: class Base:\n    def mean(self):\n        raise NotWritten()\n\n\n"
            "class Child(Base):\n    def mean(self):\n        return 2",
            "deploy: Child().mean()",
        ],
        [(1, "`Base.mean` reads `NotWritten`, which no cell binds: calling it raises NameError")],
        id="a name read only in a body that never runs is a warning",
    ),
    pytest.param(
        ["deploy: scale = lambda v: v * missing", "deploy: 1"],
        [(1, "`scale` reads `missing`, which no cell binds: calling it raises NameError")],
        id="a lambda bound to a name is made, not called",
    ),
    pytest.param(
        ["deploy: def f():\n    return eval('q')", "deploy: 1"],
        [(1, "`f` reads `q`, which no cell binds: calling it raises NameError")],
        id="a name read through eval of a literal names its function",
    ),
]


def test_a_warning_for_a_name_no_cell_binds_names_its_line() -> None:
    (found,) = plan_of(
        "deploy: x = 1\n\n\ndef f(v):\n    w = v\n    return w + later", "deploy: x"
    ).warnings
    assert (found.cell, found.line) == (1, 6)


@pytest.mark.parametrize(("cells", "expected"), WARNINGS)
def test_warnings(cells: list[str], expected: list[tuple[int, str]]) -> None:
    found = [(w.cell, w.message) for w in plan_of(*cells).warnings]
    assert len(found) == len(expected), found
    for (cell, message), (want_cell, want) in zip(found, expected, strict=True):
        assert cell == want_cell
        assert want in message


def test_newer_syntax_is_refused_at_its_cell_and_line() -> None:
    """Python 3.11 refuses a type statement itself; from 3.12 on the analysis must refuse it."""
    with pytest.raises(NotebookError) as caught:
        plan_of("deploy: x = 1", "deploy: y = 2\n\n\ntype Vector = list[float]")
    assert (caught.value.diagnostic.cell, caught.value.diagnostic.line) == (2, 4)
    if sys.version_info >= (3, 12):
        assert "cannot analyse a `type` statement" in caught.value.diagnostic.message
    else:
        assert "syntax error" in caught.value.diagnostic.message


def test_syntax_the_analysis_does_not_know_names_its_line() -> None:
    tree = cst.parse_module("x = 1\n\n# a comment\ndef f[T](v: T) -> T:\n    return v\n")
    with pytest.raises(NotebookError) as caught:
        flows_of(tree)
    assert caught.value.diagnostic.line == 4
    assert caught.value.diagnostic.message.startswith(
        "nb2prod cannot analyse type parameters (Python 3.12, PEP 695) yet"
    )
