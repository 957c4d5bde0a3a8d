"""Where definitions go: module-level constants and functions, or closures inside steps.

In the notebook a function reads the globals when it is called. Functions that need only
imports, constants and other module-level functions stay at module level unchanged; the
others stay in (or move to) the step whose names they read, where a closure sees them. Where
no faithful translation exists, the build refuses, naming the function, the name and the cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from nb2prod.analysis.facts import RUN
from nb2prod.errors import NotebookError
from nb2prod.lift.statements import Statement, StepCells, free_names, line_of, uses, without


def refuse_rebound_imports(groups: Sequence[StepCells], imported: set[str]) -> None:
    for group in groups:
        for statement in group.statements:
            clash = [name for name in statement.flow.writes if name in imported]
            if clash:
                raise NotebookError(
                    f"`{clash[0]}` is bound here and by an import; rename one of them so that "
                    "the module and the notebook agree",
                    cell=statement.cell,
                    line=line_of(statement, groups),
                )


def module_level(
    groups: Sequence[StepCells], parameters: set[str]
) -> tuple[list[StepCells], list[Statement]]:
    """The steps less the defs and classes that can live at module level, unchanged, and those.

    A def or class that reads names the steps or parameters bind, directly or through another
    such def, or whose name a step rebinds, stays in its step as a nested definition, where it
    sees those names; the rest move to module level.
    """
    statements = [s for g in groups for s in g.statements]
    candidates = [s for s in statements if s.is_definition]
    step_bound = parameters | {n for s in statements if not s.is_definition for n in s.flow.writes}
    step_bound.add(RUN)
    kept = {d.place for d in candidates}
    local = set(step_bound)
    changed = True
    while changed:  # a def that needs a demoted def is demoted too
        changed = False
        for definition in candidates:
            if definition.place in kept and (
                free_names(definition) & local or definition.name in step_bound
            ):
                kept.discard(definition.place)
                local.add(definition.name)
                changed = True
    moved = [d for d in candidates if d.place in kept]
    return without(groups, moved), moved


def constants(
    groups: Sequence[StepCells], parameters: set[str]
) -> tuple[list[StepCells], list[Statement]]:
    """The steps less the assignments that are module-level constants, and those.

    A name bound exactly once in the deploy cells, by `NAME = <immutable literal>` at a cell's
    top level, that is no parameter and that a def or class reads (or that is written in
    capitals, as constants are) is the same value for every call of run(): it moves to module
    level, where functions kept at module level can read it.
    """
    statements = [s for g in groups for s in g.statements]
    bindings: dict[str, int] = {}
    for statement in statements:
        for name in (*statement.flow.writes, *statement.flow.global_writes):
            bindings[name] = bindings.get(name, 0) + 1
    wanted = {n for s in statements if s.is_definition for n in free_names(s)}
    mutated = {n for s in statements for n in s.flow.mutates}
    constants = []
    for statement in statements:
        writes = statement.flow.writes
        if len(writes) != 1 or not (writes[0] in wanted or writes[0].isupper()):
            continue
        constant = statement.piece.constant
        if (
            constant is not None
            and bindings.get(constant) == 1
            and constant not in parameters
            and constant not in mutated
        ):
            constants.append(statement)
    return without(groups, constants), constants


def place_closures(groups: Sequence[StepCells], parameters: set[str]) -> list[StepCells]:
    """The steps with each def kept in a step moved to the step that binds the last of the
    names it reads.

    A def inside a step is a closure: it sees that step's names when it is called. When a name
    it reads is bound only by a later step, the def moves to the start of that step, so that it
    sees the name as the notebook's def would. It cannot move past a step that uses it, and a
    name rebound after the def can be seen does not fit a closure: both are refused.
    """
    placed = list(groups)
    for _ in range(sum(len(g.statements) for g in groups)):
        move = _next_move(placed, parameters)
        if move is None:
            break
        definition, source, target = move
        placed[source] = placed[source].without({definition.place})
        moved_to = placed[target]
        placed[target] = replace(moved_to, statements=(definition, *moved_to.statements))
    return placed


def _next_move(
    groups: Sequence[StepCells], parameters: set[str]
) -> tuple[Statement, int, int] | None:
    """The next def that must move to a later step, as (def, from step, to step).

    A def kept in step S closes over S's names. If a name it reads is bound again in a later
    step T before the def's last use, the def moves to the start of T, where it sees that
    binding and, through T's inputs, every earlier value; that works only if nothing uses the
    def before T.
    """
    for index, group in enumerate(groups):
        for position, definition in enumerate(group.statements):
            if not definition.is_definition:
                continue
            own = definition.name
            uses = _use_steps(groups, index, position, own)
            if not uses:
                continue
            free = free_names(definition) - {own}
            rebinds = {
                g: name
                for g in range(index + 1, max(uses) + 1)
                for name in sorted(free)
                if any(name in s.flow.writes for s in groups[g].statements)
            }
            if not rebinds:
                continue
            target = max(rebinds)
            if min(uses) < target:
                _refuse_move(definition, rebinds[target], groups, target, min(uses))
            return definition, index, target
    return None


def _use_steps(groups: Sequence[StepCells], index: int, position: int, name: str) -> list[int]:
    """The steps that read `name` after the statement at (index, position) binds it."""
    steps = []
    for g in range(index, len(groups)):
        statements = groups[g].statements[position + 1 :] if g == index else groups[g].statements
        if any(uses(s, name) for s in statements):
            steps.append(g)
    return steps


def _refuse_move(
    definition: Statement, name: str, groups: Sequence[StepCells], target: int, use: int
) -> None:
    own = definition.name
    binder = next(s.cell for s in groups[target].statements if name in s.flow.writes)
    user = next(s.cell for s in groups[use].statements if uses(s, own) and s is not definition)
    raise NotebookError(
        f"`{own}` reads `{name}`, which cell {binder} binds again "
        f"after cell {user} uses `{own}`; a lifted function cannot see both values: give the "
        f"later value another name, or pass `{name}` to `{own}` as an argument",
        cell=definition.cell,
        line=line_of(definition, groups),
    )


def refuse_global_writes(
    groups: Sequence[StepCells],
    definitions: list[Statement],
    constants: list[Statement],
    parameters: set[str],
) -> None:
    """A function that rebinds notebook state with `global` has no faithful translation."""
    statements = [s for g in groups for s in g.statements]
    state = parameters | {n for s in [*statements, *constants] for n in s.flow.writes}
    for statement in [s for s in [*statements, *definitions] if s.flow.global_writes]:
        others = [s for s in statements if s is not statement]
        readers = {n: s.cell for s in reversed(others) for n in s.flow.names_read}
        for name in sorted(statement.flow.global_writes & (state | set(readers))):
            where = f"cell {readers[name]} reads it" if name in readers else "the cells bind it"
            function = statement.name if statement.is_definition else "f"
            raise NotebookError(
                f"`{function}` rebinds the notebook's `{name}` with `global`, and {where}; "
                f"return the new value instead (`{name} = {function}({name})`) so the pipeline "
                "can pass it on",
                cell=statement.cell,
                line=line_of(statement, groups),
            )
