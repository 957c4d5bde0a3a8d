"""Serve cells in the lift: what they may hold, the artifacts found statically, the checks."""

from __future__ import annotations

import libcst as cst
import pytest

from nb2prod.analysis.selection import select
from nb2prod.errors import Diagnostic, NotebookError
from nb2prod.lift import Plan, lift
from nb2prod.lift.serving import Serving
from nb2prod.notebook.reader import Cell, Notebook


def plan_of(*cells: str | tuple[str, str]) -> Plan:
    """A plan from cells as `"deploy: code"`, `"serve: code"`, `"md: text"` or `"code"` (an
    unmarked cell); a (cell, text) pair records `text` as what the cell showed."""
    built = []
    for index, spec in enumerate(cells, start=1):
        text, shown = (spec, None) if isinstance(spec, str) else spec
        kind, sep, source = text.partition(": ")
        if not sep or kind not in {"deploy", "serve", "parameters", "test", "md"}:
            built.append(Cell(index, "code", text, (), shown))
        elif kind == "md":
            built.append(Cell(index, "markdown", source))
        else:
            built.append(Cell(index, "code", source, (kind,), shown))
    return lift(select(Notebook(tuple(built))))


def serving_of(*cells: str | tuple[str, str]) -> Serving:
    plan = plan_of(*cells)
    assert plan.serving is not None
    return plan.serving


def error_of(*cells: str) -> Diagnostic:
    with pytest.raises(NotebookError) as caught:
        plan_of(*cells)
    return caught.value.diagnostic


MODEL = (
    "parameters: threshold = 0.5\nscale = 2",
    "deploy: import math\n\nLIMIT = 10\n\n\ndef clip(x):\n    return min(x, LIMIT)\n\n\n"
    "class Model:\n    def __init__(self):\n        self.w = 1\n\n"
    "    def fit(self, k):\n        self.w = k",
    "deploy: model = Model()\nmodel.fit(3)",
    "deploy: evaluation = model.w * 2",
    "deploy: model.fit(scale)",
    "serve: def predict(x: float) -> float:\n"
    '    """Score one case."""\n'
    "    return math.sqrt(clip(x)) * model.w\n\n\n"
    "def promote(x: float) -> bool:\n    return predict(x) >= threshold",
)


def test_artifacts_are_step_values_and_parameters_not_code() -> None:
    serving = serving_of(*MODEL)
    assert [(a.name, a.origin) for a in serving.artifacts] == [
        ("model", "cell 5"),  # the refit after the evaluation changes it last
        ("threshold", "parameter"),
    ]
    assert [f.name for f in serving.functions] == ["predict", "promote"]
    assert serving.functions[0].doc == "Score one case."
    assert serving.summary == "serving reads model (cell 5), threshold (parameter)"


def test_an_artifact_changes_where_the_effects_table_says_it_may() -> None:
    """The cell an artifact comes from is the last that may change it in place, by the one
    table the steps use: a call of a method not known to be pure, kept as a value or not,
    counts; a pure one (`predict`) as a statement does not."""
    serving = serving_of(
        "deploy: class Model:\n    def tune(self, k):\n        self.k = k\n        return k\n\n"
        "    def predict(self, x):\n        return x * self.k\n\n\nmodel = Model()",
        "deploy: used = model.tune(3)",
        "deploy: model.predict(1)\nlen('shown')",
        "serve: def predict(x):\n    return model.predict(x)",
    )
    assert [(a.name, a.origin) for a in serving.artifacts] == [("model", "cell 2")]


def test_the_build_line_is_a_note() -> None:
    plan = plan_of(*MODEL)
    notes = [w for w in plan.warnings if w.note]
    assert [n.message for n in notes] == ["serving reads model (cell 5), threshold (parameter)"]
    assert not [w for w in plan.warnings if w.warning]


def test_the_steps_hand_the_artifacts_and_functions_to_the_end() -> None:
    """No later cell reads `model` after the refit, yet the pipeline must leave it for train()."""
    plan = plan_of(
        "deploy: class Model:\n    def fit(self, k):\n        self.w = k",
        "deploy: model = Model()\nmodel.fit(2)",
        "serve: def predict(x):\n    return x * model.w",
    )
    assert plan.steps[-1].returns == ("model", "predict")


def test_without_serve_cells_nothing_changes() -> None:
    plan = plan_of("md: ## Fit", "deploy: model = [3]", "md: ## Score", "deploy: len(model)")
    assert plan.serving is None
    assert [s.returns for s in plan.steps] == [("model",), ()]


def test_notebook_functions_inside_steps_are_repeated_in_the_factory() -> None:
    serving = serving_of(
        "parameters: offset = 1",
        "deploy: def shift(x):\n    return x + offset\n\n\ndef unused(x):\n    return x",
        "deploy: base = len('ten')",
        "serve: def predict(x):\n    return shift(x) * base",
    )
    assert [s.name for s in serving.body] == ["shift", "predict"]
    assert [a.name for a in serving.artifacts] == ["base", "offset"]


def test_module_level_serving_functions_stay_where_they_are() -> None:
    serving = serving_of("deploy: y = 1", "serve: def double(x):\n    return 2 * x")
    assert serving.body == ()
    assert serving.module_level == ("double",)
    assert serving.summary == "serving reads no artifacts: its functions need only code"


def test_private_defs_of_a_serve_cell_are_helpers() -> None:
    serving = serving_of(
        "deploy: k = len('abc')",
        "serve: def _scaled(x):\n    return x * k\n\n\ndef predict(x):\n    return _scaled(x)",
    )
    assert [f.name for f in serving.functions] == ["predict"]
    assert [s.name for s in serving.body] == ["_scaled", "predict"]


TICK = (
    "deploy: calls = 0\n\n\ndef tick(x):\n    global calls\n    calls += 1\n    return x * 2\n\n\n"
    "doubled = [tick(i) for i in range(3)]"
)


def test_a_name_rebound_with_global_that_serving_only_reads_is_an_artifact() -> None:
    serving = serving_of(TICK, "serve: def predict(x):\n    return x + calls")
    assert [(a.name, a.origin) for a in serving.artifacts] == [("calls", "cell 1")]


def repeated(serving: Serving) -> list[str]:
    """The code of the statements the factory repeats."""
    return [cst.Module([]).code_for_node(s.node).strip() for s in serving.body]


def test_imports_kept_inside_steps_are_code_the_factory_repeats() -> None:
    serving = serving_of(
        "deploy: try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "text = json.dumps([1])",
        "deploy: import math as m\nimport json\nout = json.loads(text)",
        "deploy: import cmath as m\nb = m.sqrt(-4)",
        "serve: def predict(x):\n    return json.dumps([m.sqrt(x).real])",
    )
    assert serving.artifacts == ()
    assert repeated(serving)[:2] == ["import json", "import cmath as m"]
    fallback = serving_of(
        "deploy: import json\nout = json.dumps([1])",
        "deploy: try:\n    import ujson as json\nexcept ImportError:\n    import json",
        "serve: def predict(x):\n    return json.dumps(x)",
    )
    assert fallback.artifacts == ()
    assert repeated(fallback)[0].startswith("try:\n    import ujson as json")


def test_a_name_an_import_binds_and_then_a_value_is_an_artifact() -> None:
    serving = serving_of(
        "deploy: try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "text = json.dumps([1])",
        "deploy: json = {'text': text}",
        "serve: def predict(x):\n    return [x, json['text']]",
    )
    assert [(a.name, a.origin) for a in serving.artifacts] == [("json", "cell 2")]
    assert repeated(serving) == ["def predict(x):\n    return [x, json['text']]"]
    mixed = serving_of(
        "deploy: a = len('a')\nb = len('b')",
        "deploy: import math as a, cmath as b",
        "deploy: b = len('bb')",
        "serve: def f(x):\n    return a.sqrt(x) + b",
    )
    assert [a.name for a in mixed.artifacts] == ["b"]
    assert repeated(mixed)[0] == "import math as a"  # `b` is the factory's parameter


def test_a_lambda_bound_to_a_name_is_a_function_the_factory_repeats() -> None:
    serving = serving_of(
        "deploy: factor = 3\nscale = lambda v: v * factor\ncheck = scale(2)",
        "serve: def predict(x):\n    return scale(x)",
    )
    assert [a.name for a in serving.artifacts] == ["factor"]
    assert [s.function for s in serving.body] == ["scale", "predict"]


REFUSED = [
    pytest.param(
        ["deploy: k = 1", "serve: def f(x):\n    return x\n\n\nk = 2"],
        (2, 5),
        "a serve cell holds only function definitions and imports, not `k = 2`",
        id="a statement",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: class Scorer:\n    pass"],
        (2, 1),
        "not class `Scorer`",
        id="a class",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: async def f(x):\n    return x"],
        (2, 1),
        "not `async def f`",
        id="an async def",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: import math"],
        (2, None),
        "is marked serve but defines no function",
        id="no function",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: def f(x):\n    return x * factor"],
        (2, None),
        "serving function `f` reads `factor`, which no deploy or parameters cell binds",
        id="an unbound name",
    ),
    pytest.param(
        ["factor = 3", "deploy: k = 1", "serve: def f(x):\n    return x * factor"],
        (3, None),
        "serving function `f` reads `factor`, which no deploy or parameters cell binds",
        id="a name only exploration binds",
    ),
    pytest.param(
        [
            "deploy: k = len('a')\n\n\ndef h(x):\n    return x * hidden * k",
            "serve: def f(x):\n    return h(x)",
        ],
        (2, None),
        "serving function `f` reads `hidden` (through `h`, cell 1), which no deploy",
        id="through a notebook function",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: def run(x):\n    return x"],
        (2, 1),
        "a serving function cannot be called `run`",
        id="a name the command line takes",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: def f(*xs):\n    return xs"],
        (2, 1),
        "takes *args or **kwargs",
        id="star arguments",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: def f(x):\n    return x * k", "deploy: f = None"],
        (2, None),
        "cell 3 binds `f` again after the serve cell defines it",
        id="rebound later",
    ),
    pytest.param(
        ["deploy: k = 1", "serve: def f(x):\n    return x * k", "deploy: del k"],
        (2, None),
        "reads `k`, which cell 3 deletes",
        id="deleted later",
    ),
    pytest.param(
        [
            "parameters: factor = 2",
            "deploy: class Scaler:\n    def scale(self, x):\n        return x * factor\n\n\n"
            "scaler = Scaler()",
            "serve: def f(x):\n    return scaler.scale(x)",
        ],
        (2, None),
        "`scaler`, which a serving function reads, holds an object of class `Scaler`, which "
        "reads `factor` and so is defined inside a step",
        id="an object of a class inside a step",
    ),
    pytest.param(
        [
            "deploy: k = len('ab')\n\n\ndef helper(x):\n    return x * k\n\n\nhook = helper",
            "serve: def f(x):\n    return hook(x)",
        ],
        (1, None),
        "`hook`, which a serving function reads, holds the function `helper`, which reads `k`",
        id="a function inside a step",
    ),
    pytest.param(
        [
            "deploy: k = len('ab')\nscale = lambda v: v * k\nhook = scale",
            "serve: def f(x):\n    return hook(x)",
        ],
        (1, None),
        "`hook`, which a serving function reads, holds the lambda `scale`",
        id="a lambda held as a value",
    ),
    pytest.param(
        [TICK, "serve: def predict(x):\n    return tick(x) + calls"],
        (1, 5),
        "serving function `predict` calls `tick`, which rebinds `calls` with `global`",
        id="a function rebinding module state",
    ),
    pytest.param(
        [
            TICK,
            "deploy: def twice(x):\n    return tick(tick(x))",
            "serve: def predict(x):\n    return twice(x)",
        ],
        (1, 5),
        "serving function `predict` calls `tick` (through `twice`), which rebinds `calls`",
        id="rebinding module state through another function",
    ),
    pytest.param(
        [
            "deploy: calls = 0",
            "serve: def predict(x):\n    global calls\n    calls += 1\n    return x",
        ],
        (2, 2),
        "serving function `predict` rebinds `calls` with `global`: served, it would change",
        id="a serving function rebinding module state",
    ),
    pytest.param(
        [
            "deploy: try:\n    import ujson as json\n    fast = True\nexcept ImportError:\n"
            "    import json\n    fast = False",
            "deploy: fast = len(json.dumps([1])) > 3",
            "serve: def f(x):\n    return json.dumps(x) if fast else x",
        ],
        (1, None),
        "the import fallback here binds `fast` too, which a serving function reads",
        id="an import fallback binding an artifact",
    ),
    pytest.param(
        ["deploy: def load(path):\n    return path", "serve: def f(x):\n    return x"],
        (1, None),
        "`load` is defined at module level",
        id="the package's load() taken",
    ),
]


@pytest.mark.parametrize(("cells", "where", "message"), REFUSED)
def test_refusals_name_the_cell(
    cells: list[str], where: tuple[int, int | None], message: str
) -> None:
    error = error_of(*cells)
    assert (error.cell, error.line) == where
    assert message in error.message


def test_the_training_table_is_warned_about() -> None:
    plan = plan_of(
        "deploy: import pandas as pd",
        "deploy: rows = pd.read_csv('data/2024-05-01_rows.csv')\nrows = rows.dropna()",
        "deploy: mean = rows.price.mean()",
        "serve: def near(x):\n    return rows[rows.price < x]\n\n\ndef above(x):\n"
        "    return x > mean",
    )
    warnings = [w for w in plan.warnings if w.warning]
    assert len(warnings) == 1, warnings
    assert warnings[0].cell == 4
    assert warnings[0].message.startswith(
        "serving function `near` reads `rows`, which cell 2 binds from a data read "
        "(`pd.read_csv`): train() would save the training table with the model"
    )


def test_reading_files_or_the_network_on_each_call_is_warned_about() -> None:
    plan = plan_of(
        "deploy: import json\nimport requests\n\n\ndef rates():\n"
        "    return requests.get('https://example.com/rates').json()",
        "deploy: k = 2",
        "serve: def price(x):\n    return x * rates()['eur'] * k\n\n\n"
        "def config(name):\n    with open('config.json') as f:\n        return json.load(f)[name]\n\n\n"
        "def pure(x):\n    return x * k",
    )
    warnings = sorted((w.message, w.line) for w in plan.warnings if w.warning)
    assert len(warnings) == 2, warnings
    config, price = warnings
    assert config[0].startswith(
        "serving function `config` reads data on every call: `open` in cell 3"
    )
    assert config[1] == 6
    assert price[0].startswith(
        "serving function `price` reads data on every call (through `rates`): "
        "`requests.get` in cell 1"
    )


def test_literal_calls_anywhere_with_what_the_cell_showed() -> None:
    serving = serving_of(
        "deploy: k = 2",
        "serve: def f(x, scale=1):\n    return x * k * scale",
        ("deploy: f(3)", "6"),
        ("f({'a': 1}, scale=2)", "<memory at 0x7f00>"),
        "test: assert f(3) == 6\nassert f(k) == 4",
        ("f(4)\nf(x=5)", "10"),
    )
    calls = [(c.function, c.cell, c.code, c.arguments, c.recorded) for c in serving.calls]
    assert calls == [
        ("f", 3, "f(3)", (("x", 3),), "6"),
        ("f", 4, "f({'a': 1}, scale=2)", (("x", {"a": 1}), ("scale", 2)), None),
        ("f", 6, "f(4)", (("x", 4),), None),
        ("f", 6, "f(x=5)", (("x", 5),), "10"),
    ]


def test_the_notebook_hash_follows_the_pipeline_cells_only() -> None:
    base = ["parameters: n = 1", "deploy: k = n", "serve: def f(x):\n    return x * k"]
    first = serving_of(*base).notebook_hash
    assert serving_of(*base, "k + 100").notebook_hash == first  # an exploration cell
    assert serving_of(*base[:2], "serve: def f(x):\n    return x + k").notebook_hash != first
