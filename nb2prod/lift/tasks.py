"""The steps as tasks that run apart: where each value a step reads is kept, whom it waits for.

run() chains the steps in one namespace, so a value changed in place is seen by every later
step. An orchestrator runs each step on its own (in another process, on another machine), on
values loaded from a store: a step reads each value from the last step before it that returned
it or may have changed it in place, else from the run's parameters. Those sources are the edges;
steps that read nothing of each other's are not chained, so they may run side by side. The
final step, which writes the run's result, also waits for every step that nothing waits for, so
that a result means every step ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nb2prod.errors import NotebookError
from nb2prod.lift.plan import Plan, Step


@dataclass(frozen=True)
class Task:
    """One step as an orchestrator runs it: what it loads from which step, what it hands on."""

    step: Step
    sources: tuple[tuple[str, str], ...]  # (input, the step whose folder holds its value)
    after: tuple[str, ...]  # steps to wait for without reading their values
    final: bool
    changes: tuple[str, ...]  # inputs it may change in place that a later step reads from it
    unread: tuple[str, ...] = ()  # outputs no later step reads from it (tests', train()'s)

    @property
    def handed(self) -> tuple[str, ...]:
        """The values it saves for later steps: its outputs that a later step reads from it,
        then inputs it changes in place."""
        returns = [name for name in self.step.returns if name not in self.unread]
        return (*returns, *(name for name in self.changes if name not in returns))


def tasks(steps: Sequence[Step]) -> tuple[Task, ...]:
    """The steps as tasks, in the notebook's order (each after the steps it waits for)."""
    holder: dict[str, str] = {}  # a value's name -> the step that last handed it on
    found: list[tuple[Step, tuple[tuple[str, str], ...]]] = []
    for step in steps:
        found.append((step, tuple((n, holder[n]) for n in step.params if n in holder)))
        holder.update(dict.fromkeys([*step.changed_in_place, *step.returns], step.name))
    read_from = {pair for _, sources in found for pair in sources}  # (name, step)
    waited_for = {source for _, source in read_from}
    result: list[Task] = []
    for index, (step, sources) in enumerate(found):
        final = index == len(found) - 1
        after: tuple[str, ...] = ()
        if final:
            after = tuple(s.name for s, _ in found[:-1] if s.name not in waited_for)
        changes = tuple(n for n in step.changed_in_place if (n, step.name) in read_from)
        unread = tuple(n for n in step.returns if (n, step.name) not in read_from)
        result.append(Task(step, sources, after, final, changes, unread))
    return tuple(result)


def check_apart(plan: Plan) -> None:
    """NotebookError if the steps cannot run apart: a name a function rebinds with `global`
    lives in the module of one process, where a task in another process would not see it."""
    for name, function, cell, line in plan.module_state_writers:
        raise NotebookError(
            f"`{function}` rebinds `{name}` with `global`: the name lives in the module of one "
            "process, and each task runs in a process of its own, so later tasks would not see "
            f"it; --airflow cannot run these steps apart (run() can): keep `{name}` in a value "
            "that a step returns, or build without --airflow",
            cell=cell,
            line=line,
        )
