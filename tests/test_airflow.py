"""Generated Airflow DAGs run for real: `dag.test()` in Airflow's own environment.

Airflow lives in an environment of its own (`make test` builds .venv-airflow from
tests/airflow-requirements.txt: its pins would downgrade the dev environment's FastAPI), whose
python $NB2PROD_AIRFLOW_PYTHON names. Without it these tests skip, but on CI (CI=true) they
fail, so that a run without Airflow cannot pass as green.

This process never imports Airflow, which rewires logging and fixes its home for the whole
process. One child process (airflow_runner.py) runs every DAG of this module, each scenario on
a DAG object of its own, in a fresh AIRFLOW_HOME: a copy of a metadata db migrated once per
session, and a dags folder of one-line files, as the README deploys them. One process for all:
its first dag.test() takes about 6 s, every later one a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nb2prod.build import Status
from nb2prod.runtime import dumps, path_component

from conftest import FIXTURES, ROOT, WORKING_CASES, build, load_package
from notebooks import write_notebook
from test_golden import options

# Cases whose steps cannot run apart, which --airflow refuses (tests/test_orchestration.py):
# a function rebinds a module global with `global`, which a task in another process cannot see.
NOT_APART = {"global_counter"}
APART = [case for case in WORKING_CASES if case not in NOT_APART]

pytestmark = pytest.mark.airflow

RUNNER = Path(__file__).with_name("airflow_runner.py")
ORDERS = "orders_on_airflow"
ORDERS_NOTEBOOK = "fixtures/orders_on_airflow/input.ipynb"
# The examples, with the parameters their DAG runs are also given.
EXAMPLES = {"churn_deploy": {"n_customers": 40, "seed": 3, "threshold": 0.3}}
# A step whose output no serializer saves (a generator), which the next step reads. (Airflow's
# tasks import dill, which teaches pickle to save locks.)
UNSAVEABLE = [
    "md: ## Make rows",
    "deploy: rows = (n * n for n in range(4))",
    "md: ## Add up",
    "deploy: sum(rows)",
]


def airflow_python() -> str:
    """The Airflow environment's python; skip without one, except on CI, where it fails."""
    python = os.environ.get("NB2PROD_AIRFLOW_PYTHON")
    if python and Path(python).is_file():
        return python
    why = "no Airflow environment: NB2PROD_AIRFLOW_PYTHON names none (`make test` builds it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}; on CI the DAG tests must run")
    pytest.skip(why)


def airflow_env(home: Path, packages: list[Path]) -> dict[str, str]:
    """The child's environment: its own home and dags folder, quiet logs, the packages."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NB2PROD_"))}
    return {
        **kept,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore::UserWarning",  # starlette's about httpx, on every run
        "PYTHONPATH": os.pathsep.join(str(p) for p in packages),
    }


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`airflow db migrate` once per session; each home gets a copy of the sqlite file."""
    python = airflow_python()
    home = tmp_path_factory.mktemp("airflow-template")
    migrate = [python, "-m", "airflow", "db", "migrate"]
    done = subprocess.run(
        migrate, env=airflow_env(home, []), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home / "airflow.db"


@dataclass
class Runs:
    """What the child process reported, and everything it printed."""

    dags: dict[str, Any]  # by package: upstream tasks of each task, and the runs
    output: str
    stores: dict[str, Path]
    projects: dict[str, Path]

    def run(self, package: str, run: str) -> dict[str, Any]:
        found = [r for r in self.dags[package]["runs"] if r["id"] == run]
        assert len(found) == 1, self.dags[package]["runs"]
        return found[0]

    def result(self, package: str, run: str, store: str = "env") -> Any:
        run_id = self.run(package, run)["run_id"]
        return json.loads((self.stores[store] / path_component(run_id) / "result.json").read_text())

    def folder(self, package: str, run: str, store: str = "env") -> Path:
        return self.stores[store] / path_component(self.run(package, run)["run_id"])


def dags_file(package: str) -> str:
    """The one-line file of the dags folder, as the README's Airflow section writes it."""
    section = README.split("\n## Airflow", 1)[1].split("\n## ", 1)[0]
    line = re.search(r"^from churn_deploy\.airflow_dag import dag.*$", section, re.M)
    assert line is not None, "the README shows the dags-folder file"
    return line[0].replace("churn_deploy", package) + "\n"


README = (ROOT / "README.md").read_text()


def expected(project: Path, package: str, conf: Mapping[str, Any]) -> Any:
    """What run() gives for these parameters, as the CLI's JSON."""
    with load_package(project, package) as pipeline:
        return json.loads(dumps(pipeline.run(**conf)))


def orders_runs(stores: dict[str, Path]) -> list[dict[str, Any]]:
    """The scenarios of the Airflow fixture, besides its default and overriding runs."""
    env = str(stores["env"])
    overrides = json.loads((FIXTURES / ORDERS / "overrides.json").read_text())
    return [
        {"id": "param store", "conf": {**overrides, "store": str(stores["param"])}, "store": env},
        {"id": "integral float", "conf": {"n_orders": 12.0}, "store": env},
        {"id": "wrong type", "conf": {"n_orders": "many"}, "store": env},
        {"id": "unknown param", "conf": {"n_order": 3}, "store": env},
        {"id": "no orders", "conf": {"n_orders": 0}, "store": env},
        {"id": "no store", "conf": {}, "store": None},
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Runs:
    """Every fixture, the examples and the failure cases built with --airflow, and their DAGs
    run in one child process."""
    python = airflow_python()
    base = tmp_path_factory.mktemp("dags")
    out, home = base / "build", base / "airflow-home"
    (home / "dags").mkdir(parents=True)
    shutil.copy(migrated_db, home / "airflow.db")
    stores = {"env": base / "env-store", "param": base / "param-store"}
    notebooks: dict[str, tuple[Path, dict[str, Any]]] = {}
    for case in APART:
        overrides = json.loads((FIXTURES / case / "overrides.json").read_text())
        notebooks[case] = (FIXTURES / case / "input.ipynb", overrides)
    for example, overrides in EXAMPLES.items():
        notebooks[example] = (ROOT / "examples" / f"{example}.ipynb", overrides)
    notebooks["unsaveable"] = (write_notebook(base / "unsaveable.ipynb", UNSAVEABLE), {})
    plan, projects = [], {}
    for package, (notebook, overrides) in notebooks.items():
        settings = {**options(notebook.parent), "airflow": True}
        result = build(
            notebook.relative_to(ROOT) if notebook.is_relative_to(ROOT) else notebook,
            out,
            name=package,
            **settings,
        )
        assert result.status is Status.WRITTEN, result.messages
        projects[package] = out / package
        (home / "dags" / f"{package}.py").write_text(dags_file(package))
        confs = {"default": {}, "overrides": overrides} if overrides else {"default": {}}
        scenarios = [
            {"id": name, "conf": conf, "store": str(stores["env"])} for name, conf in confs.items()
        ]
        if package == ORDERS:
            scenarios += orders_runs(stores)
        plan.append({"module": f"{package}.airflow_dag", "runs": scenarios})
    (base / "plan.json").write_text(json.dumps(plan))
    child = subprocess.run(
        [python, str(RUNNER), str(base / "plan.json"), str(base / "out.json")],
        env=airflow_env(home, list(projects.values())),
        cwd=base,
        capture_output=True,
        text=True,
        check=False,
    )
    output = child.stdout + child.stderr
    assert child.returncode == 0, output[-5000:]
    reported = json.loads((base / "out.json").read_text())["dags"]
    dags = {module.removesuffix(".airflow_dag"): dag for module, dag in reported.items()}
    return Runs(dags, output, stores, projects)


# --- the same answer as run() ----------------------------------------------------------------


@pytest.mark.parametrize("package", [*APART, *EXAMPLES])
def test_the_dag_gives_run_s_answer(runs: Runs, package: str) -> None:
    """result.json in the run's folder is run()'s result, as the CLI prints it."""
    scenarios = [r for r in runs.dags[package]["runs"] if r["id"] in {"default", "overrides"}]
    assert scenarios
    for scenario in scenarios:
        assert scenario["state"] == "success", scenario
        assert set(scenario["tasks"].values()) == {"success"}, scenario
        conf = {} if scenario["id"] == "default" else _overrides(package)
        assert runs.result(package, scenario["id"]) == expected(
            runs.projects[package], package, conf
        )


def _overrides(package: str) -> dict[str, Any]:
    if package in EXAMPLES:
        return EXAMPLES[package]
    return json.loads((FIXTURES / package / "overrides.json").read_text())  # type: ignore[no-any-return]


# --- the shape of the DAG ----------------------------------------------------------------------


def test_one_task_per_step_after_the_tasks_whose_values_it_reads(runs: Runs) -> None:
    """The two summaries of the changed orders, and the printing step, are not chained; the
    report waits for the step that changed the orders in place, and for the printing one."""
    dag = runs.dags[ORDERS]
    assert dag["dag_id"] == ORDERS
    assert dag["upstream"] == {
        "load_the_orders": [],
        "apply_the_discount": ["load_the_orders"],
        "totals_by_region": ["apply_the_discount"],
        "mean_amount": ["apply_the_discount"],
        "say_how_many": ["apply_the_discount"],
        "report": ["apply_the_discount", "mean_amount", "say_how_many", "totals_by_region"],
    }


# --- values through the store ------------------------------------------------------------------


def test_each_run_and_step_has_a_folder_with_a_checked_manifest(runs: Runs) -> None:
    folder = runs.folder(ORDERS, "default")
    steps = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert steps == sorted(runs.dags[ORDERS]["upstream"])
    assert (folder / "result.json").is_file()
    for step in steps:
        manifest = json.loads((folder / step / "manifest.json").read_text())
        assert manifest["step"] == step
        assert manifest["run_id"] == runs.run(ORDERS, "default")["run_id"]
        for entry in manifest["artifacts"].values():
            data = (folder / step / entry["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert set(
        json.loads((folder / "apply_the_discount" / "manifest.json").read_text())["artifacts"]
    ) == {"orders"}


def test_xcom_carries_only_the_urls_of_stored_values(runs: Runs) -> None:
    run = runs.run(ORDERS, "default")
    folder = runs.folder(ORDERS, "default")
    assert set(run["xcoms"]) == set(run["tasks"])
    for task, pushed in run["xcoms"].items():
        assert set(pushed) == {"return_value"}  # no value per key: multiple_outputs is off
        for name, url in pushed["return_value"].items():
            assert url.startswith("file:///")
            path = Path(url.removeprefix("file://"))
            assert (path.parent, path.stem) == (folder / task, name)
            assert path.is_file()
    assert run["xcoms"]["say_how_many"]["return_value"] == {}


def test_a_value_changed_in_place_is_handed_on(runs: Runs) -> None:
    """`apply_the_discount` returns nothing but changes the orders: it saves them as they are
    after it, and the later steps read them from there, not from `load_the_orders`."""
    folder = runs.folder(ORDERS, "default")
    loaded = json.loads((folder / "load_the_orders" / "orders.json").read_text())
    discounted = json.loads((folder / "apply_the_discount" / "orders.json").read_text())
    assert loaded[1]["amount"] == 13.0
    assert discounted[1]["amount"] == 11.7
    assert runs.result(ORDERS, "default")["first"] == discounted[0]


# --- parameters ------------------------------------------------------------------------------


def test_run_conf_overrides_the_params_and_the_store_param_wins(runs: Runs) -> None:
    overrides = _overrides(ORDERS)
    run = runs.run(ORDERS, "param store")
    assert run["state"] == "success"
    answer = runs.result(ORDERS, "param store", store="param")
    assert answer == expected(runs.projects[ORDERS], ORDERS, overrides)
    assert answer != runs.result(ORDERS, "default")
    assert not (runs.stores["env"] / path_component(run["run_id"])).exists()


def test_an_integral_number_is_an_int_param(runs: Runs) -> None:
    """JSON schema takes 12.0 for an integer: the task makes it 12, as range() needs."""
    assert runs.run(ORDERS, "integral float")["state"] == "success"
    assert runs.result(ORDERS, "integral float") == runs.result(ORDERS, "default")


def test_a_param_of_the_wrong_type_is_refused_before_any_task(runs: Runs) -> None:
    raised = runs.run(ORDERS, "wrong type")["raised"]
    assert raised.startswith("ParamValidationError: Invalid input for param n_orders:")
    assert "'many' is not of type 'integer'" in raised


def test_an_unknown_param_fails_the_tasks_naming_it(runs: Runs) -> None:
    run = runs.run(ORDERS, "unknown param")
    assert run["state"] == "failed"
    assert run["tasks"]["load_the_orders"] == "failed"
    assert (
        f"ValueError: {ORDERS_NOTEBOOK}: no parameter `n_order`; the parameters are "
        "n_orders, discount, regions, label" in runs.output
    )


def test_the_store_param_or_the_environment_is_needed(runs: Runs) -> None:
    run = runs.run(ORDERS, "no store")
    assert run["state"] == "failed"
    assert run["tasks"]["load_the_orders"] == "failed"
    assert "ArtifactError: no store: set the DAG param `store` or $NB2PROD_STORE" in runs.output


# --- failures in notebook coordinates ----------------------------------------------------------


def test_a_failing_step_names_its_cell_and_independent_steps_still_run(runs: Runs) -> None:
    run = runs.run(ORDERS, "no orders")
    assert run["state"] == "failed"
    assert run["tasks"] == {
        "load_the_orders": "success",
        "apply_the_discount": "success",
        "totals_by_region": "success",
        "mean_amount": "failed",
        "say_how_many": "success",
        "report": "upstream_failed",
    }
    assert not (runs.folder(ORDERS, "no orders") / "result.json").exists()
    assert (
        f"StepError: {ORDERS_NOTEBOOK}: cell 10: step `mean_amount` failed: StatisticsError: "
        "mean requires at least one data point" in runs.output
    )
    assert "weekly 0 orders" in runs.output  # what the steps print reaches the task's log


def test_an_unsaveable_value_names_the_value_the_step_and_the_cell(runs: Runs) -> None:
    run = runs.run("unsaveable", "default")
    assert run["state"] == "failed"
    assert run["tasks"] == {"make_rows": "failed", "add_up": "upstream_failed"}
    # the task's error is one line; the serializer's own error is chained above it
    pattern = (
        r"^unsaveable\.runtime\.ArtifactError: \S*unsaveable\.ipynb: cell 2: step `make_rows`: "
        r"cannot save `rows`: cannot pickle 'generator' object; a value that later steps read "
        r"must be saveable \(JSON, an array, what pickle or cloudpickle saves\): make it in the step "
        r"that uses it, or hand on what it is made of$"
    )
    assert re.search(pattern, runs.output, re.M), runs.output[-3000:]
