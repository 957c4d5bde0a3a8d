"""--airflow without Airflow: the steps as tasks, the DAG params, the files and the generated tests.

What the DAGs do when Airflow runs them is tests/test_airflow.py's; this is what nb2prod decides
before that: which step each value is loaded from, what a step hands on, how each parameter is
typed, which files a build writes, and that the generated tests catch a missed in-place change.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nb2prod import lift as lift_layer
from nb2prod.analysis.selection import select
from nb2prod.build import Status
from nb2prod.cli import app
from nb2prod.emit.airflow_dag import dag_param
from nb2prod.lift import Plan, lift, tasks
from nb2prod.notebook.reader import Cell, Notebook

from conftest import FIXTURES, ROOT, build, load_package, run_generated_tests
from notebooks import write_notebook


def plan_of(*cells: str) -> Plan:
    """A plan from cells written as `"deploy: code"`, `"parameters: code"` or `"md: text"`."""
    built = []
    for index, text in enumerate(cells, start=1):
        kind, _, source = text.partition(": ")
        cell = (
            Cell(index, "markdown", source)
            if kind == "md"
            else Cell(index, "code", source, (kind,))
        )
        built.append(cell)
    return lift(select(Notebook(tuple(built))))


def shape(
    plan: Plan,
) -> list[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]]]:
    """Each task: its step, what it changes in place, where its inputs come from, whom else it waits for."""
    return [(t.step.name, t.changes, t.sources, t.after) for t in tasks(plan.steps)]


TASKS = [
    pytest.param(
        [
            "md: ## Load",
            "deploy: rows = [3, 1, 2]",
            "md: ## Add up",
            "deploy: total = sum(rows)",
            "md: ## Largest",
            "deploy: biggest = max(rows)",
            "md: ## Report",
            "deploy: (total, biggest)",
        ],
        [
            ("load", (), (), ()),
            ("add_up", (), (("rows", "load"),), ()),
            ("largest", (), (("rows", "load"),), ()),
            ("report", (), (("total", "add_up"), ("biggest", "largest")), ()),
        ],
        id="two summaries of one table are not chained",
    ),
    pytest.param(
        [
            "md: ## Load",
            "deploy: rows = [3, 1, 2]",
            "md: ## Change",
            "deploy: rows[0] = 9",
            "md: ## Use",
            "deploy: sum(rows)",
        ],
        [
            ("load", (), (), ()),
            ("change", ("rows",), (("rows", "load"),), ()),
            ("use", (), (("rows", "change"),), ()),
        ],
        id="a value changed in place is read from the step that changed it",
    ),
    pytest.param(
        [
            "md: ## Load",
            "deploy: class Box:\n    pass\n\n\nbox = Box()\nbox.size = 1",
            "md: ## Grow",
            "deploy: box.size += 1",
            "md: ## Use",
            "deploy: box.size",
        ],
        [
            ("load", (), (), ()),
            ("grow", ("box",), (("box", "load"),), ()),
            ("use", (), (("box", "grow"),), ()),
        ],
        id="an attribute changed by augmented assignment is handed on",
    ),
    pytest.param(
        [
            "parameters: weights = [1, 2]",
            "md: ## Scale",
            "deploy: weights[0] = 5",
            "md: ## Sum",
            "deploy: sum(weights)",
        ],
        [("scale", ("weights",), (), ()), ("sum_step", (), (("weights", "scale"),), ())],
        id="a parameter changed in place is read from the step that changed it",
    ),
    pytest.param(
        [
            "md: ## A",
            "deploy: x = 1",
            "md: ## B",
            "deploy: x = x + 1",
            "md: ## C",
            "deploy: x * 10",
        ],
        [("a", (), (), ()), ("b", (), (("x", "a"),), ()), ("c", (), (("x", "b"),), ())],
        id="a value bound again is read from the last step that bound it",
    ),
    pytest.param(
        [
            "md: ## Load",
            "deploy: rows = [1, 2]",
            "md: ## Say",
            "deploy: print(len(rows))",
            "md: ## Count",
            "deploy: len(rows)",
        ],
        [
            ("load", (), (), ()),
            ("say", (), (("rows", "load"),), ()),
            ("count", (), (("rows", "load"),), ("say",)),
        ],
        id="the final step waits for the steps nothing waits for",
    ),
    pytest.param(
        [
            "md: ## Load",
            "deploy: rows = [1, 2]",
            "md: ## Add up",
            "deploy: total = sum(rows)\nrows[0] = 0",
            "md: ## Show",
            "deploy: total",
        ],
        [
            ("load", (), (), ()),
            ("add_up", (), (("rows", "load"),), ()),
            ("show", (), (("total", "add_up"),), ()),
        ],
        id="a change that no later step reads is not handed on",
    ),
    pytest.param(
        [
            "md: ## Load",
            "deploy: orders = [{'amount': 1}, {'amount': 2}]",
            "md: ## Scale",
            "deploy: for o in orders:\n    o['amount'] *= 2",
            "md: ## Total",
            "deploy: sum(o['amount'] for o in orders)",
        ],
        [
            ("load", (), (), ()),
            ("scale", ("orders",), (("orders", "load"),), ()),
            ("total", (), (("orders", "scale"),), ()),
        ],
        id="a change through a loop variable changes what it loops over",
    ),
]


@pytest.mark.parametrize(("cells", "expected"), TASKS)
def test_tasks(cells: list[str], expected: list[Any]) -> None:
    assert shape(plan_of(*cells)) == expected


def test_a_method_call_that_may_change_its_object_is_handed_on() -> None:
    """`model = LinearRegression()` in one step and `model.fit(X, y)` in the next: the fitted
    model must reach the step that predicts."""
    plan = plan_of(
        "md: ## Make",
        "deploy: rows = [1, 2]",
        "md: ## Grow",
        "deploy: rows.append(3)",
        "md: ## Use",
        "deploy: len(rows)",
    )
    assert shape(plan)[1] == ("grow", ("rows",), (("rows", "make"),), ())


# --- DAG params ------------------------------------------------------------------------------

PARAMETERS = (
    "parameters: from pathlib import Path\n"
    "n = 300\nrate = 0.5\nflag = True\nname = 'x'\nsizes = [1, 2]\nshape = (2, 3)\n"
    "tags = {'b', 'a'}\noptions = {'k': 1}\npairs = [(1, 2)]\npath = Path('data/x.csv')\n"
    "limit = n * 10\nnothing = None\nraw = b'x'"
)
WHERE = 'description="From notebook cell 1.'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("n", f'Param(300, type="integer", {WHERE}")', id="an int"),
        pytest.param("rate", f'Param(0.5, type="number", {WHERE}")', id="a float"),
        pytest.param("flag", f'Param(True, type="boolean", {WHERE}")', id="a bool"),
        pytest.param("name", f'Param(\'x\', type="string", {WHERE}")', id="text"),
        pytest.param(
            "sizes",
            f'Param([1, 2], type="array", items={{"type": "integer"}}, {WHERE}")',
            id="a list of ints",
        ),
        pytest.param(
            "shape",
            f'Param([2, 3], type="array", items={{"type": "integer"}}, {WHERE}")',
            id="a tuple as an array",
        ),
        pytest.param(
            "tags",
            f'Param([\'a\', \'b\'], type="array", items={{"type": "string"}}, {WHERE}")',
            id="a set as a sorted array",
        ),
        pytest.param("options", f'Param({{\'k\': 1}}, type="object", {WHERE}")', id="a dict"),
        pytest.param(
            "pairs",
            f'Param(None, type=["null", "array"], {WHERE} When null: [(1, 2)], as in the notebook.")',
            id="a default JSON cannot give back stands as null",
        ),
        pytest.param(
            "path",
            f'Param(None, type=["null", "string"], {WHERE} When null: Path(\'data/x.csv\'), '
            'computed as the notebook does.")',
            id="a path is text, null for the notebook's",
        ),
        pytest.param(
            "limit",
            f'Param(None, {WHERE} When null: n * 10, computed as the notebook does.")',
            id="a computed default",
        ),
        pytest.param("nothing", f'Param(None, {WHERE}")', id="None takes any value"),
        pytest.param(
            "raw", f"Param(None, {WHERE} When null: b'x', as in the notebook.\")", id="bytes"
        ),
    ],
)
def test_dag_params_are_typed_from_the_parameters_kinds(name: str, expected: str) -> None:
    plan = plan_of(PARAMETERS, "deploy: n")
    parameter = next(p for p in plan.parameters if p.name == name)
    assert ast.dump(ast.parse(dag_param(parameter))) == ast.dump(ast.parse(expected))


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package whose parameters are of every kind, built with --airflow."""
    folder = tmp_path_factory.mktemp("kinds")
    cells = [
        PARAMETERS,
        "deploy: seen = {k: (type(v).__name__, v) for k, v in sorted(dict(\n"
        "    n=n, rate=rate, shape=shape, tags=tags, path=path, limit=limit, pairs=pairs\n"
        ").items())}",
        "deploy: {k: (t, repr(v)) for k, (t, v) in seen.items()}",
    ]
    notebook = write_notebook(folder / "kinds_deploy.ipynb", cells)
    assert build(notebook, folder / "build", airflow=True).status is Status.WRITTEN
    return folder / "build" / "kinds_deploy"


def test_a_run_s_json_values_become_the_notebook_s_types(kinds: Path) -> None:
    """What a DAG run's params give the steps is what run() would be given."""
    with load_package(kinds, "kinds_deploy") as pipeline:
        steps = importlib.import_module("kinds_deploy.steps")
        given = steps.PIPELINE.given(
            {"n": 7.0, "rate": 1, "shape": [4, 5], "tags": ["c"], "path": "y.csv"}
        )
        assert given == {
            **steps._arguments(),
            "n": 7,
            "rate": 1.0,
            "shape": (4, 5),
            "tags": {"c"},
            "path": Path("y.csv"),
            "limit": 70,  # computed from the n given, as run() computes it
        }
        assert [type(given[k]) for k in ("n", "rate", "shape", "tags")] == [int, float, tuple, set]
        assert pipeline.run(**given) == pipeline.run(
            n=7, rate=1.0, shape=(4, 5), tags={"c"}, path=Path("y.csv")
        )
        defaults = steps.PIPELINE.given({"pairs": None, "limit": None})
        assert defaults == steps._arguments() and defaults["pairs"] == [(1, 2)]
        with pytest.raises(ValueError, match=r"kinds_deploy\.ipynb: parameter `n`: 1\.5 is not"):
            steps.PIPELINE.given({"n": 1.5})


def dag_defaults(dag_file: Path) -> dict[str, object]:
    """The default of each param in a generated DAG file's PARAMS, read without Airflow."""
    tree = ast.parse(dag_file.read_text())
    params = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "PARAMS"
    )
    assert isinstance(params, ast.Dict)
    return {
        ast.literal_eval(key): ast.literal_eval(value.args[0])  # type: ignore[arg-type, attr-defined]
        for key, value in zip(params.keys, params.values, strict=True)
    }


def test_the_dag_params_defaults_are_run_s_defaults(kinds: Path) -> None:
    """Each param's default, taken as a run takes it, is run()'s default."""
    defaults = dag_defaults(kinds / "kinds_deploy" / "airflow_dag.py")
    assert defaults.pop("store") is None
    with load_package(kinds, "kinds_deploy"):
        steps = importlib.import_module("kinds_deploy.steps")
        assert list(defaults) == list(steps.PIPELINE.parameters)
        assert steps.PIPELINE.given(defaults) == steps._arguments()


def test_a_notebook_parameter_named_store_keeps_its_name(tmp_path: Path) -> None:
    cells = ["parameters: store = 'shop'", "deploy: store.upper()"]
    notebook = write_notebook(tmp_path / "shop_deploy.ipynb", cells)
    assert build(notebook, tmp_path / "build", airflow=True).status is Status.WRITTEN
    text = (tmp_path / "build" / "shop_deploy" / "shop_deploy" / "airflow_dag.py").read_text()
    assert 'STORE_PARAM = "store_nb2prod"' in text
    assert '"store": Param("shop", type="string"' in text
    assert '"store_nb2prod": Param(\n        None,\n        type=["null", "string"],' in text


# --- the files ---------------------------------------------------------------------------------

ORCHESTRATION = ["airflow_dag.py", "steps.py"]


def _package_files(project: Path) -> list[str]:
    return sorted(p.name for p in (project / project.name).glob("*.py"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_notebook(
        tmp_path / "notebooks" / "churn_deploy.ipynb",
        ["parameters: n = 3", "md: ## Load", "deploy: rows = list(range(n))", "deploy: len(rows)"],
    )
    return tmp_path


def test_airflow_option_adds_the_dag_the_steps_and_the_extra(project: Path) -> None:
    result = CliRunner().invoke(app, ["build", "notebooks/churn_deploy.ipynb", "--airflow"])
    assert result.exit_code == 0, result.output
    built = project / "build" / "churn_deploy"
    assert set(ORCHESTRATION) <= set(_package_files(built))
    pyproject = (built / "pyproject.toml").read_text()
    assert "# Built with these nb2prod build options: --airflow\n" in pyproject
    assert (
        'airflow = ["apache-airflow>=3.0,<4", "fsspec>=2023.10", "joblib>=1.3", "cloudpickle>=2.2"]'
        in pyproject
    )
    assert 'test = ["pytest>=7", "fsspec>=2023.10", "joblib>=1.3", "cloudpickle>=2.2"]' in pyproject
    dag = (built / "churn_deploy" / "airflow_dag.py").read_text()
    assert 'dag_id="churn_deploy"' in dag
    assert "from airflow.sdk import Param, get_current_context, task" in dag
    assert "\ndag = pipeline_dag()\n" in dag


def test_airflow_setting_in_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.nb2prod]\nnotebooks = ["notebooks"]\nairflow = true\n'
    )
    result = CliRunner().invoke(app, ["build"])
    assert result.exit_code == 0, result.output
    assert set(ORCHESTRATION) <= set(_package_files(project / "build" / "churn_deploy"))


def test_without_the_option_there_is_no_dag(project: Path) -> None:
    result = CliRunner().invoke(app, ["build", "notebooks/churn_deploy.ipynb"])
    assert result.exit_code == 0, result.output
    built = project / "build" / "churn_deploy"
    assert not set(ORCHESTRATION) & set(_package_files(built))
    assert "airflow" not in (built / "pyproject.toml").read_text()
    assert "test_steps_run_apart" not in (built / "tests" / "test_churn_deploy.py").read_text()


def test_a_pipeline_without_steps_has_no_dag(tmp_path: Path) -> None:
    cells = ["deploy: import math", "deploy: def root(x):\n    return math.sqrt(x)"]
    notebook = write_notebook(tmp_path / "defs_deploy.ipynb", cells)
    result = build(notebook, tmp_path / "build", airflow=True)
    assert result.status is Status.FAILED
    assert result.messages[-1].endswith(
        "defs_deploy.ipynb: has no step to run as a task: its deploy cells only import and "
        "define; build it without --airflow, or mark the cells that do the work `deploy`"
    )
    assert not (tmp_path / "build").exists()


def test_a_name_rebound_with_global_cannot_run_apart(tmp_path: Path) -> None:
    """It lives in one process's module: a later task would not see it, so --airflow refuses,
    naming the function, the name and the `global` statement's line; without it, it builds."""
    result = build(FIXTURES / "global_counter" / "input.ipynb", tmp_path / "a", airflow=True)
    assert result.status is Status.FAILED
    assert (
        "input.ipynb: cell 1, line 9: `counted.wrapper` rebinds `calls` with `global`"
        in (result.messages[-1])
    )
    assert "--airflow cannot run these steps apart" in result.messages[-1]
    assert not (tmp_path / "a").exists()
    assert build(FIXTURES / "global_counter" / "input.ipynb", tmp_path / "b").ok


def test_what_only_train_keeps_is_not_saved_between_tasks() -> None:
    """With serve cells, the steps hand the artifacts on to the end for train(); no task reads
    them from the last step, so the store does not get them on every run."""
    plan = plan_of(
        "deploy: weights = [1, 2]\nweights.append(3)\nlimit = 2",
        "serve: def predict(x):\n    return sum(weights) * x > limit",
    )
    (task,) = tasks(plan.steps)
    assert "weights" in task.step.returns
    assert task.unread == task.step.returns
    assert task.handed == ()


# --- the generated tests -----------------------------------------------------------------------

ORDERS = FIXTURES / "orders_on_airflow" / "input.ipynb"


def test_the_generated_tests_run_every_step_through_a_store(tmp_path: Path) -> None:
    assert (
        build(ORDERS.relative_to(ROOT), tmp_path, name="orders", airflow=True).status
        is Status.WRITTEN
    )
    done = run_generated_tests(tmp_path / "orders")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "test_steps_run_apart_through_a_store"
        in (tmp_path / "orders" / "tests" / "test_orders.py").read_text()
    )


TASK = """
import json, sys
from {package} import runtime, steps
name, store, run_id, handed = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
print(json.dumps(steps.PIPELINE.run_task(name, runtime.Store(store), run_id, handed, {{}})))
"""


@pytest.mark.slow
@pytest.mark.parametrize("case", ["orders_on_airflow", "listings_deploy"])
def test_each_task_in_a_process_of_its_own_gives_run_s_result(case: str, tmp_path: Path) -> None:
    """As an orchestrator's workers run them: one process per step, values only through the
    store and the URLs each task hands on; the result is what `python -m PACKAGE` prints."""
    notebook = ROOT / "examples" / f"{case}.ipynb" if case == "listings_deploy" else ORDERS
    assert build(notebook.relative_to(ROOT), tmp_path, name=case, airflow=True).ok
    project = tmp_path / case
    env = {**os.environ, "PYTHONPATH": str(project)}

    def python(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=notebook.parent,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    specs = json.loads(
        python(
            "-c",
            f"import json; from {case} import steps; "
            "print(json.dumps([[s.name, list(s.upstream)] for s in steps.STEPS]))",
        )
    )
    store, handed = str(tmp_path / "store"), {}
    for name, upstream in specs:
        given = json.dumps({step: handed[step] for step in upstream})
        task = python("-c", TASK.format(package=case), name, store, "run-1", given)
        handed[name] = json.loads(task.strip().splitlines()[-1])
    result = (tmp_path / "store" / "run-1" / "result.json").read_text()
    command = ["-m", case, "run"] if case == "listings_deploy" else ["-m", case]  # serve cells
    assert json.loads(result) == json.loads(python(*command))


def test_the_generated_tests_fail_when_an_in_place_change_is_not_handed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the discount's change of the orders missed, its task would hand on nothing and the
    summaries would read the orders from before it: the generated test says so, with no Airflow."""
    monkeypatch.setattr(lift_layer.plan, "may_change", lambda flow: frozenset())
    result = build(ORDERS.relative_to(ROOT), tmp_path, name="orders", airflow=True, cache=False)
    assert result.status is Status.WRITTEN
    steps = (tmp_path / "orders" / "orders" / "steps.py").read_text()
    assert "changed_in_place" not in steps
    done = run_generated_tests(tmp_path / "orders")
    assert done.returncode == 1
    assert "FAILED tests/test_orders.py::test_steps_run_apart_through_a_store" in done.stdout
    assert json.dumps("first") in done.stdout or "'first'" in done.stdout


# --- make test and CI ------------------------------------------------------------------------


def test_make_test_builds_the_airflow_environment_and_hands_it_to_pytest(tmp_path: Path) -> None:
    """A missing Airflow environment is built from the bounded requirements, then named to pytest."""
    venv = tmp_path / "airflow-env"
    dry = subprocess.run(
        ["make", "-n", "unit", f"AIRFLOW_VENV={venv}", f"STAMP={tmp_path / 'dev-stamp'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"-m venv {venv}" in dry
    assert f"{venv}/bin/python -m pip install --quiet -r tests/airflow-requirements.txt" in dry
    assert f"NB2PROD_AIRFLOW_PYTHON={venv}/bin/python " in dry
    requirements = (ROOT / "tests" / "airflow-requirements.txt").read_text().splitlines()
    assert "apache-airflow>=3.3,<3.4" in requirements


def test_on_ci_the_dag_tests_fail_without_airflow() -> None:
    """Locally they are skipped; CI=true must not pass green without having run a DAG."""
    env = {k: v for k, v in os.environ.items() if k != "NB2PROD_AIRFLOW_PYTHON"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_airflow.py",
    ]
    on_ci = subprocess.run(
        command, cwd=ROOT, env={**env, "CI": "true"}, capture_output=True, text=True, check=False
    )
    assert on_ci.returncode == 1
    assert "on CI the DAG tests must run" in on_ci.stdout
    local = subprocess.run(
        command, cwd=ROOT, env={**env, "CI": ""}, capture_output=True, text=True, check=False
    )
    assert local.returncode == 0
    assert "skipped" in local.stdout
