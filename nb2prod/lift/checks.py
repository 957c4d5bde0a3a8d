"""Checks on the names a pipeline reads: undefined names, star imports, hidden state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import libcst as cst

from nb2prod.analysis.facts import function_reading, line_within
from nb2prod.analysis.flow import sequence
from nb2prod.analysis.selection import CodeCell, Selection, statement_lines
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
        # Python looks a name up in a function body only when the body runs: a name read
        # there alone, that no cell binds, fails only if that code runs, as in the notebook.
        read_now = {n for s in statements for n in s.flow.reads}
        binders = _binders(selection)
        errors = {n: c for n, c in unknown.items() if n in read_now or n in binders}
        if errors:
            first = min(errors, key=lambda name: errors[name])
            raise NotebookError(
                _unknown_message(errors, selection, binders),
                cell=errors[first],
                line=_line_reading(first, errors[first], selection),
            )
        notes += [_never_bound(name, statements, selection) for name in unknown]
    notes += _hidden_state(selection, readers, bound - module_names)
    return notes


_DUNDERS = frozenset({"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__"})


def _binders(selection: Selection) -> dict[str, int]:
    """Each name an unmarked or test cell binds, with the first such cell."""
    binders: dict[str, int] = {}
    for cell in selection.with_role(Role.UNMARKED, Role.TEST):
        for name in bound_by(cell):
            binders.setdefault(name, cell.index)
    return binders


def _never_bound(name: str, statements: Sequence[Statement], selection: Selection) -> Diagnostic:
    """The warning for a name read only inside a function body, that no cell binds."""
    reader = next(s for s in statements if name in s.flow.deferred)
    cell = next(c for c in selection.cells if c.index == reader.cell)
    node, line = _top_level(cell, reader.place.position)
    found = function_reading(node, name) if node is not None else None
    if found is not None and line is not None and node is not None:
        line += line_within(node, found[1])
    elif found is None:  # the name is in what the lift made of it (`eval("q")` became `q`)
        found = function_reading(reader.node, name)
    function = reader.piece.lambda_name or (found[0] if found is not None else "a function")
    return warning(
        f"`{function}` reads `{name}`, which no cell binds: calling it raises NameError, in "
        "the notebook as in the pipeline",
        reader.cell,
        line,
    )


def _top_level(cell: CodeCell, position: int) -> tuple[cst.BaseStatement | None, int | None]:
    """A cell's top-level statement at `position` (counted from 1), and its line."""
    if not 0 < position <= len(cell.tree.body):
        return None, None
    return cell.tree.body[position - 1], statement_lines(cell.tree)[position - 1]


def _unknown_message(unknown: dict[str, int], selection: Selection, binders: dict[str, int]) -> str:
    """Each undefined name with the cell that reads it and an unmarked cell that binds it."""
    parts = []
    for name, cell in sorted(unknown.items(), key=lambda item: item[1]):
        binder = binders.get(name)
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
