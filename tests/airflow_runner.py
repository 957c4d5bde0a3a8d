"""Run generated DAGs with `dag.test()` in this process; run by the Airflow environment's python.

    python airflow_runner.py PLAN.json OUT.json

PLAN.json is a list of `{"module": "pkg.airflow_dag", "runs": [{"id": ..., "conf": {...},
"store": URL}]}`: each run's name, its run_conf, and the $NB2PROD_STORE its tasks see (null:
none). Each run gets a DAG
object of its own (the module imported afresh): dag.test() keeps a run_conf's values on the
tasks' Params, so a second run of one object would see the first one's. OUT.json gets, per
DAG, each task's upstream tasks and, per run, its run_id, state, task states and XComs, or what
dag.test() raised (a param of the wrong type is refused before any task runs).

It imports only the standard library and Airflow: nb2prod and pytest live in another
environment. The test process gives it AIRFLOW_HOME, a dags folder whose one-line files import
the DAGs, and PYTHONPATH to the generated packages.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any

# The generated packages come first: this script's folder holds test modules with their names
# (`test_cells`), which python puts at the front of the path.
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry) != os.path.dirname(__file__)]


def run_dag(module_name: str, plans: list[dict[str, Any]]) -> dict[str, Any]:
    """Each run of one DAG, and its shape."""
    runs: list[dict[str, Any]] = []
    dag: Any = None
    for plan in plans:
        conf = plan.get("conf") or {}
        os.environ.pop("NB2PROD_STORE", None)  # read by the tasks, which run in this process
        if plan.get("store"):
            os.environ["NB2PROD_STORE"] = plan["store"]
        module = sys.modules.get(module_name)
        module = importlib.reload(module) if module else importlib.import_module(module_name)
        dag = module.dag
        started = time.perf_counter()
        try:
            dag_run = dag.test(run_conf=conf or None)
        except Exception as exc:  # a param of the wrong type: refused before any task runs
            runs.append({"id": plan.get("id"), "raised": f"{type(exc).__name__}: {exc}"})
            continue
        tasks = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        runs.append(
            {
                "id": plan.get("id"),
                "run_id": dag_run.run_id,
                "state": str(dag_run.state),
                "tasks": tasks,
                "xcoms": xcoms(dag_run),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    upstream = {}
    if dag is not None:
        upstream = {tid: sorted(task.upstream_task_ids) for tid, task in dag.task_dict.items()}
    return {"dag_id": getattr(dag, "dag_id", None), "upstream": upstream, "runs": runs}


def xcoms(dag_run: Any) -> dict[str, dict[str, Any]]:
    """What each task of a run pushed to XCom, by task and key."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(XComModel.task_id, XComModel.key, XComModel.value).where(
        XComModel.run_id == dag_run.run_id, XComModel.dag_id == dag_run.dag_id
    )
    pushed: dict[str, dict[str, Any]] = {}
    with create_session() as session:
        for task_id, key, value in session.execute(query).all():
            pushed.setdefault(task_id, {})[key] = value
    return pushed


def main() -> None:
    plan_path, out_path = sys.argv[1:3]
    with open(plan_path) as file:
        plan = json.load(file)
    started = time.perf_counter()
    results = {entry["module"]: run_dag(entry["module"], entry["runs"]) for entry in plan}
    summary = {"seconds": round(time.perf_counter() - started, 3), "dags": results}
    with open(out_path, "w") as file:
        json.dump(summary, file, indent=1)


if __name__ == "__main__":
    main()
