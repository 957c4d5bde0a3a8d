"""`<package>/airflow_dag.py` (with --airflow): an Airflow 3 DAG with one TaskFlow task per step.

The DAG maps the engine-neutral `steps.py` onto Airflow: a task per step, named as the step,
after the tasks whose values it reads; the parameters as typed DAG params. What a task does is
the runtime's (`Pipeline.run_task`): load its inputs from the store, run the step, save what it
hands on. XCom carries only the URLs of those files.
"""

from __future__ import annotations

from nb2prod.emit import Target
from nb2prod.emit.steps import Names
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Parameter, Plan
from nb2prod.naming import NameAllocator

STORE_HELP = (
    "Where the steps' values go: an fsspec URL (a folder, s3://bucket/prefix, gs://...), one "
    "folder per run and step; when null, $NB2PROD_STORE where the task runs."
)


def store_param(plan: Plan) -> str:
    """The DAG param naming the store: `store`, unless the notebook has a parameter so named."""
    return NameAllocator({p.name for p in plan.parameters}).claim("store", "nb2prod")


def render(plan: Plan, target: Target) -> str:
    """The source of `<package>/airflow_dag.py`, before formatting."""
    pkg = target.package
    module_doc = docstring(
        f"Airflow DAG of the pipeline of {target.source}: one task per step.",
        "Install the package where Airflow's workers run (pip install "
        f"'{target.distribution}[airflow]'), and put one line in a file of the dags folder: "
        f"`from {pkg}.airflow_dag import dag`.",
        "Each task loads the values its step reads from the store, runs the step, and saves "
        "what later steps read, values it changed in place included; XCom carries only the "
        f"files' URLs. The store is the run's `{store_param(plan)}` param, else $NB2PROD_STORE "
        "(any fsspec URL): one folder per run and step, and the run's result as result.json "
        "in the run's folder.",
        indent="",
    )
    pipeline = Names.of(plan).pipeline
    imports = (
        "from typing import Any\n\n"
        "from airflow.sdk import Param, get_current_context, task\n"
        "from airflow.sdk import dag as define_dag\n\n"
        "from .runtime import configured_store\n"
        f"from .steps import {pipeline}\n"
    )
    return join_sections(
        module_doc,
        imports,
        _params(plan),
        _task_factory(plan, pipeline),
        _dag(plan, target, pipeline),
        "dag = pipeline_dag()\n",
    )


def _params(plan: Plan) -> str:
    lines = []
    previous = None
    for parameter in plan.parameters:
        if parameter.cell != previous:
            lines.append(f"# cell {parameter.cell}")
            previous = parameter.cell
        lines.append(f"{literal(parameter.name)}: {dag_param(parameter)},")
    store = store_param(plan)
    lines.append(
        f'{literal(store)}: Param(None, type=["null", "string"], '
        f"description={literal(STORE_HELP)}),"
    )
    body = "".join(f"    {line}\n" for line in lines)
    return f"STORE_PARAM = {literal(store)}\n\nPARAMS = {{\n{body}}}\n"


def dag_param(parameter: Parameter) -> str:
    """The typed DAG param of a run() parameter: `Param(300, type="integer", ...)`.

    Its type comes from the parameter's kind, as the command line's and the web API's do. A
    default JSON cannot give back as it is (computed, a path, `[(1, 2)]`) stands as null, and
    the task fills it in as run() does.
    """
    kind = parameter.json_type
    where = f"From notebook cell {parameter.cell}."
    if parameter.json_exact:
        arguments = [repr(parameter.json_default)]
        if kind is not None:
            arguments.append(f"type={literal(kind)}")
    else:
        arguments = ["None"]
        if kind is not None:
            arguments.append(f'type=["null", {literal(kind)}]')
        how = "computed as the notebook does" if not parameter.literal else "as in the notebook"
        where += f" When null: {one_line(parameter.default, 80)}, {how}."
    if parameter.json_item is not None:
        arguments.append(f'items={{"type": {literal(parameter.json_item)}}}')
    arguments.append(f"description={literal(where)}")
    return f"Param({', '.join(arguments)})"


def _task_factory(plan: Plan, pipeline: str) -> str:
    return f'''def step_task(name: str) -> Any:
    """The task of one step: it gets the URLs its upstream tasks handed on, by task, runs the
    step on the values there, and hands on the URLs of what it saved."""

    where = {pipeline}.step(name).where({pipeline}.notebook)

    @task(task_id=name, multiple_outputs=False, doc_md=where)
    def run_step(handed: dict[str, dict[str, str]]) -> dict[str, str]:
        context = get_current_context()
        params = dict(context["params"])
        url = params.pop(STORE_PARAM, None)
        store = configured_store(url, setting=f"the DAG param `{{STORE_PARAM}}`")
        return {pipeline}.run_task(name, store, context["run_id"], handed, params)

    return run_step
'''


def _dag(plan: Plan, target: Target, pipeline: str) -> str:
    description = one_line(plan.title or f"Pipeline lifted from {target.source}", 200)
    doc = docstring(
        "One task per step, each after the tasks whose values it reads: the dataflow, not "
        "the notebook's order."
    )
    return f"""@define_dag(
    dag_id={literal(target.package)},
    description={literal(description)},
    schedule=None,
    catchup=False,
    params=PARAMS,
    tags=["nb2prod"],
)
def pipeline_dag() -> None:
    {doc}
    handed: dict[str, Any] = {{}}
    for spec in {pipeline}.steps:  # in the notebook's order: upstream steps first
        upstream = {{step: handed[step] for step in spec.upstream}}
        handed[spec.name] = step_task(spec.name)(upstream)
"""
