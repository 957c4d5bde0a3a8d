"""`<package>/steps.py` (with an orchestrator's DAG): the steps as tasks that run apart.

It holds the package's step contract as plain data for the runtime's `Pipeline`: each step's
inputs, the step each input is loaded from, its outputs and the inputs it changes in place,
its cells; and the parameters with their kinds. An orchestrator's file (`airflow_dag.py`; a
Dagster or Prefect one would do the same) only maps that onto its engine, and the generated
tests run every step through a store with `PIPELINE.run_all`, without any engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nb2prod.emit import Target
from nb2prod.emit.module import default_fill, result_alias, signature_part
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import NotebookError
from nb2prod.lift import Plan, Task, module_names_read, tasks
from nb2prod.naming import NameAllocator


@dataclass(frozen=True)
class Names:
    """The module-level names of `steps.py` that neither the steps nor the defaults take."""

    pipeline: str
    steps: str
    arguments: str
    pipeline_class: str
    spec_class: str

    @classmethod
    def of(cls, plan: Plan) -> Names:
        taken = {s.name for s in plan.steps} | set(module_names_read(plan.parameters))
        names = NameAllocator(taken | {p.name for p in plan.parameters})
        return cls(
            pipeline=names.claim("PIPELINE", "STEPS"),
            steps=names.claim("STEPS", "SPECS"),
            arguments=names.claim("_arguments", "steps"),
            pipeline_class=names.claim("Pipeline", "runtime"),
            spec_class=names.claim("StepSpec", "runtime"),
        )


def render(plan: Plan, target: Target) -> str:
    """The source of `<package>/steps.py`, before formatting; NotebookError without steps."""
    if not plan.steps:
        raise NotebookError(
            "has no step to run as a task: its deploy cells only import and define; build "
            "it without --airflow, or mark the cells that do the work `deploy`"
        )
    names = Names.of(plan)
    module_doc = docstring(
        f"The steps of the pipeline of {target.source}, as orchestrators run them.",
        "Each step runs on its own, on values loaded from a store, and saves there what later "
        "steps read (values it changes in place too). airflow_dag.py runs each as one Airflow "
        f"task; `{names.pipeline}.run_all(store, run_id)` runs them all here, one after the "
        "other, the same way.",
        indent="",
    )
    return join_sections(
        module_doc,
        _imports(plan, names),
        _arguments(plan, names),
        _steps(plan, names),
        _pipeline(plan, target, names),
    )


def _imports(plan: Plan, names: Names) -> str:
    from_pipeline = sorted({s.name for s in plan.steps} | set(module_names_read(plan.parameters)))
    lines = []
    if from_pipeline:
        lines.append(f"from .pipeline import {', '.join(from_pipeline)}\n")
    runtime = [
        _imported("Pipeline", names.pipeline_class),
        _imported("StepSpec", names.spec_class),
    ]
    lines.append(f"from .runtime import {', '.join(runtime)}\n")
    return "".join(lines)


def _imported(name: str, alias: str) -> str:
    return name if name == alias else f"{name} as {alias}"


def _arguments(plan: Plan, names: Names) -> str:
    """run()'s signature and default filling, returning the parameters by name."""
    signature = ", ".join(signature_part(p) for p in plan.parameters)
    fill = "".join(f"    {line}\n" for line in default_fill(plan.parameters))
    values = ", ".join(f"{literal(p.name)}: {p.name}" for p in plan.parameters)
    doc = docstring("run()'s parameters: those left out, or None, filled in as run() fills them.")
    return (
        f"def {names.arguments}({signature}) -> dict[str, object]:\n    {doc}\n"
        f"{fill}    return {{{values}}}\n"
    )


def _steps(plan: Plan, names: Names) -> str:
    specs = "".join(_spec(task, plan, names) for task in tasks(plan.steps))
    note = (
        "# Each step reads a value from the last step before it that returned it or may have\n"
        "# changed it in place (`sources`), else from the parameters; steps that read nothing\n"
        "# of each other's run side by side.\n"
    )
    return f"{note}{names.steps} = (\n{specs})\n"


def _spec(task: Task, plan: Plan, names: Names) -> str:
    step = task.step
    result = _result_name(task, plan)
    fields = [literal(step.name)]
    fields += _tuple_field("inputs", step.params)
    fields += _tuple_field("outputs", step.returns)
    fields += _tuple_field("changed_in_place", task.changes)
    fields += _tuple_field("unsaved", task.unread)
    fields.append(f"cells={_tuple(str(cell) for cell in step.cells)}")
    if result is not None:
        fields.append(f"result={literal(result)}")
    if task.sources:
        fields.append(f"sources={_tuple(_pair(n, s) for n, s in task.sources)}")
    fields += _tuple_field("after", task.after)
    bound = [(name, step.last_cell(name)) for name in task.handed]
    pairs = [f"({literal(name)}, {cell})" for name, cell in bound if cell is not None]
    if pairs:
        fields.append(f"bound_in={_tuple(pairs)}")
    if task.final:
        fields.append("final=True")
    return f"    {names.spec_class}({', '.join(fields)}),\n"


def _result_name(task: Task, plan: Plan) -> str | None:
    """What the step's result is called: its output that is the result, or run()'s name for it."""
    if task.step.result is None:
        return None
    return result_alias(task.step) or plan.result_var


def _tuple_field(name: str, values: Sequence[str]) -> list[str]:
    return [f"{name}={_tuple(literal(v) for v in values)}"] if values else []


def _tuple(items: Iterable[str]) -> str:
    listed = list(items)
    return f"({', '.join(listed)},)" if len(listed) == 1 else f"({', '.join(listed)})"


def _pair(first: str, second: str) -> str:
    return f"({literal(first)}, {literal(second)})"


def _pipeline(plan: Plan, target: Target, names: Names) -> str:
    functions = ", ".join(f"{literal(s.name)}: {s.name}" for s in plan.steps)
    kinds = ", ".join(
        f"{literal(p.name)}: ({literal(p.kind.value)}, {literal(p.item) if p.item else None})"
        for p in plan.parameters
    )
    parameters = _tuple(literal(p.name) for p in plan.parameters)
    # A default JSON cannot give back stands as null in a run's params (the DAG's `Param(None)`).
    null_default = [literal(p.name) for p in plan.parameters if not p.json_exact]
    fields = [
        f"notebook={literal(target.source)}",
        f"steps={names.steps}",
        f"functions={{{functions}}}",
        f"arguments={names.arguments}",
        f"parameters={parameters}",
        f"kinds={{{kinds}}}",
    ]
    if null_default:
        fields.append(f"null_default={_tuple(null_default)}")
    listed = "".join(f"    {field},\n" for field in fields)
    return f"{names.pipeline} = {names.pipeline_class}(\n{listed})\n"
