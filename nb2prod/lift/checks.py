"""Checks on the names a pipeline reads: undefined names, star imports, hidden state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nb2prod.analysis.flow import sequence
from nb2prod.analysis.selection import Selection, statement_lines
from nb2prod.errors import Diagnostic, NotebookError, warning
from nb2prod.lift.statements import Statement, StepCells, bound_by, bound_by_reads
from nb2prod.naming import BUILTINS
from nb2prod.notebook.cells import PIPELINE_ROLES, Role


def check_names(
    selection: Selection,
    statements: Sequence[Statement],
    parameters: set[str],
    module_names: set[str],
    star: Sequence[str],
) -> list[Diagnostic]:
    """Undefined names are errors (or star-import guesses); hidden state is a warning."""
    bound = module_names | parameters
    bound |= {n for s in statements for n in s.flow.writes}
    readers: dict[str, int] = {}
    for statement in statements:
        for name in statement.flow.names_read:
            readers.setdefault(name, statement.cell)
    unknown = {n: c for n, c in readers.items() if n not in bound and n not in BUILTINS | _DUNDERS}
    notes: list[Diagnostic] = []
    if unknown and star:
        for name, cell in unknown.items():
            notes.append(warning(f"`{name}` is taken to come from `from {star[0]} import *`", cell))
    elif unknown:
        first = min(unknown, key=lambda name: unknown[name])
        raise NotebookError(
            _unknown_message(unknown, selection),
            cell=unknown[first],
            line=_line_reading(first, unknown[first], selection),
        )
    notes += _hidden_state(selection, readers, bound - module_names)
    return notes


_DUNDERS = frozenset({"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__"})


def _unknown_message(unknown: dict[str, int], selection: Selection) -> str:
    """Each undefined name with the cell that reads it and an unmarked cell that binds it."""
    others = selection.with_role(Role.UNMARKED, Role.TEST)
    parts = []
    for name, cell in sorted(unknown.items(), key=lambda item: item[1]):
        binder = next((c.index for c in others if name in bound_by(c)), None)
        fix = (
            f"cell {binder} binds it: mark cell {binder} deploy, or make it a parameter"
            if binder is not None
            else "no cell binds it"
        )
        parts.append(f"`{name}` (read in cell {cell}; {fix})")
    return "deploy cells read names that no deploy or parameters cell binds: " + "; ".join(parts)


def _line_reading(name: str, cell_index: int, selection: Selection) -> int | None:
    """The line of the first statement in a cell that reads `name`."""
    cell = next(c for c in selection.cells if c.index == cell_index)
    for line, flow in zip(statement_lines(cell.tree), cell.facts.flows, strict=True):
        if flow.reads_name(name):
            return line
    return None


def _hidden_state(
    selection: Selection, readers: dict[str, int], pipeline_names: set[str]
) -> list[Diagnostic]:
    """Unmarked cells that rebind or change, before a deploy cell reads it, a pipeline name."""
    notes = []
    last_read: dict[str, int] = {}
    for cell in selection.with_role(*PIPELINE_ROLES):
        for flow in cell.facts.flows:
            for name in flow.names_read:
                last_read[name] = cell.index
    for cell in selection.with_role(Role.UNMARKED):
        flow = sequence(cell.facts.flows)
        touched = dict.fromkeys([*flow.writes, *sorted(flow.mutates)])
        for name in touched:
            if name in pipeline_names and last_read.get(name, 0) > cell.index:
                verb = "rebinds" if name in flow.writes else "changes"
                notes.append(
                    warning(
                        f"hidden state: this unmarked cell {verb} `{name}`, which deploy cell "
                        f"{last_read[name]} reads; the notebook's run and the pipeline's differ",
                        cell.index,
                    )
                )
    return notes


def all_bound(selection: Selection) -> set[str]:
    return {n for cell in selection.cells for n in bound_by(cell)}


def reads_anywhere(
    name: str, groups: Iterable[StepCells], definitions: Iterable[Statement], selection: Selection
) -> bool:
    statements = [*definitions, *(s for g in groups for s in g.statements)]
    if any(s.flow.reads_name(name) for s in statements):
        return True
    return any(name in bound_by_reads(c) for c in selection.with_role(Role.TEST))
