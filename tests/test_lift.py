"""The plan: what each step takes and returns, where definitions go, and what is refused."""

from __future__ import annotations

import pytest

from nb2prod.analysis.selection import select
from nb2prod.errors import NotebookError
from nb2prod.lift import Plan, lift
from nb2prod.notebook.reader import Cell, Notebook


def plan_of(*cells: str) -> Plan:
    """A plan from cells written as `"deploy: code"`, `"parameters: code"` or `"md: text"`."""
    built = []
    for index, text in enumerate(cells, start=1):
        kind, _, source = text.partition(": ")
        built.append(
            Cell(index, "markdown", source)
            if kind == "md"
            else Cell(index, "code", source, (kind,))
        )
    return lift(select(Notebook(tuple(built))))


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
        ["deploy: import os", "deploy: os = None"],
        (2, 1),
        "`os` is bound here and by an import",
        id="rebinding an import",
    ),
    pytest.param(
        ["deploy: n = 0\n\n\ndef bump():\n    global n\n    n += 1", "deploy: bump()\nn"],
        (1, 4),
        "`bump` rebinds the notebook's `n` with `global`",
        id="global rebinding of notebook state",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: k = 2\n\n\ndef f(x):\n    return x * k",
            "md: ## B",
            "deploy: a = f(1)",
            "md: ## C",
            "deploy: k = 3\nf(1)",
        ],
        (2, 4),
        "`f` reads `k`, which cell 6 binds again after cell 4 uses `f`",
        id="a function used before a name it reads is rebound",
    ),
    pytest.param(
        ["deploy: y = x + 1"], (1, 1), "`x` (read in cell 1; no cell binds it)", id="undefined name"
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
