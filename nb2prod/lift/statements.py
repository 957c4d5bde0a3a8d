"""Deploy cells as statements with their flows, grouped into steps; imports hoisted.

A step is a run of consecutive deploy cells under one markdown heading or one `step:NAME`
mark. Imports leave the steps for the top of the module, de-duplicated in order, except an
import that would shadow the pipeline's own `run`, and the import of a name that something
else binds too: hoisted, that import would bind the name for the whole module, so it stays
where the notebook has it and binds the name at that point of its step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace
from typing import NamedTuple

import libcst as cst

from nb2prod.analysis.dynamic import DYNAMIC, Reached, static_form
from nb2prod.analysis.facts import (
    ImportLine,
    Piece,
    hoist,
    import_line,
    import_of,
    line_within,
    piece_of,
)
from nb2prod.analysis.flow import Flow, sequence
from nb2prod.analysis.selection import CodeCell, statement_lines
from nb2prod.errors import NotebookError

_EMPTY = cst.Module([])


class Place(NamedTuple):
    """Where a statement comes from: its cell, its top-level statement there (counted from 1)
    and which part of that statement it is once imports are hoisted. Places order statements
    as the notebook does, and name them: no two statements of a plan share one. A def defined
    again in a later step (see `placement.place_closures`) is told apart by `copy`."""

    cell: int
    position: int = 0
    offset: int = 0
    copy: int = 0


@dataclass(frozen=True, eq=False)
class Statement:
    """A statement of a step, with the flow it has.

    A statement of a cell carries the cell it comes from, whose tree is parsed for the node
    only when the node is needed; one made by the lift carries its node.
    """

    place: Place
    piece: Piece
    last_in_cell: bool = False
    source: CodeCell | None = None
    made: cst.BaseStatement | None = None

    @classmethod
    def of(cls, place: Place, node: cst.BaseStatement) -> Statement:
        """A statement the lift made from a node, standing at `place`."""
        return cls(place, piece_of(node), made=node)

    @property
    def cell(self) -> int:
        return self.place.cell

    @property
    def flow(self) -> Flow:
        return self.piece.flow

    @property
    def is_definition(self) -> bool:
        return self.piece.is_definition

    @property
    def name(self) -> str:
        """A def's or class's name."""
        assert self.piece.name is not None
        return self.piece.name

    @property
    def function(self) -> str | None:
        """The name of the function the statement makes: a def's, a class's, or NAME in
        `NAME = lambda ...`; None for other statements."""
        return self.piece.name or self.piece.lambda_name

    def reads_when_called(self) -> frozenset[str]:
        """What the function the statement makes reads from outside when it is called (and,
        for a def or class, when it is made)."""
        if self.is_definition:
            return free_names(self)
        return self.flow.deferred

    @property
    def node(self) -> cst.BaseStatement:
        if self.made is not None:
            return self.made
        assert self.source is not None
        return self.source.nodes[self.piece.position, self.piece.offset]

    @property
    def identity(self) -> str:
        """What determines the node: its cell's code and place there, or its own code."""
        if self.source is not None:
            return f"{self.source.key}:{self.piece.position}:{self.piece.offset}"
        return _EMPTY.code_for_node(self.node)


@dataclass(frozen=True)
class StepCells:
    """Consecutive deploy cells that form one step, and the statements the step runs."""

    key: tuple[str, object]
    cells: tuple[CodeCell, ...]
    statements: tuple[Statement, ...]

    def without(self, places: Set[Place]) -> StepCells:
        """This group less the statements at `places`."""
        kept = tuple(s for s in self.statements if s.place not in places)
        return self if len(kept) == len(self.statements) else replace(self, statements=kept)


def without(groups: Sequence[StepCells], statements: Iterable[Statement]) -> list[StepCells]:
    """The groups less `statements`, which the lift has placed elsewhere."""
    places = {statement.place for statement in statements}
    return [group.without(places) for group in groups]


class Imports:
    """Hoisted imports, de-duplicated in order; `from __future__` first."""

    def __init__(self) -> None:
        self.seen: dict[str, ImportLine] = {}
        self.bound: set[str] = set()
        self.star: list[str] = []

    def add(self, line: ImportLine) -> None:
        self.seen.setdefault(line.key, line)
        self.bound |= set(line.writes)
        self.star += [m for m in line.star if m not in self.star]

    def add_node(self, small: cst.Import | cst.ImportFrom) -> None:
        line = import_line(small)
        if line is not None:
            self.add(line)

    def statements(self) -> tuple[cst.BaseStatement, ...]:
        future = [s for k, s in self.seen.items() if k.startswith("from __future__")]
        rest = [s for k, s in self.seen.items() if not k.startswith("from __future__")]
        return tuple(line.statement() for line in future + rest)


def group_cells(
    deploy: Sequence[CodeCell], imports: Imports, parameters: Set[str] = frozenset()
) -> list[StepCells]:
    """Hoist imports and group the remaining statements into steps, in notebook order.

    `imports` holds the parameters cells' imports already; an import of a name bound twice
    (see `bound_twice`) stays in its step.
    """
    rebound = bound_twice(deploy, imports, parameters)
    runs: list[tuple[tuple[str, object], list[CodeCell]]] = []
    kept: dict[int, list[Statement]] = {}
    for cell in deploy:
        key = _step_key(cell)
        if not runs or runs[-1][0] != key:
            runs.append((key, []))
        runs[-1][1].append(cell)
        for line in cell.facts.imports:
            stays = rebound.intersection(line.writes)
            if not stays or line.key.startswith("from __future__"):
                imports.add(line)
                continue
            place = Place(cell.index, line.position, line.offset)
            if line.is_fallback:  # a `try` stays whole, where the notebook has it
                statement = Statement.of(place, line.statement())
            else:
                hoisted = import_of(line, set(line.writes) - stays)
                if hoisted is not None:
                    imports.add_node(hoisted)
                stay = import_of(line, stays)
                assert stay is not None
                statement = Statement.of(place, cst.SimpleStatementLine(body=[stay]))
            kept.setdefault(cell.index, []).append(statement)
    return [StepCells(key, tuple(cells), _statements(cells, kept)) for key, cells in runs]


def bound_twice(
    deploy: Sequence[CodeCell], imports: Imports, parameters: Set[str] = frozenset()
) -> set[str]:
    """Names with more than one binding: bound by two statements, by a statement and an
    import, or by imports of different things (`import numpy as np` twice is one binding)."""
    bindings: dict[str, set[object]] = {}
    for line in imports.seen.values():
        for name, source in zip(line.writes, line.sources, strict=True):
            bindings.setdefault(name, set()).add(source)
    for name in parameters:
        bindings.setdefault(name, set()).add(("parameter",))
    for cell in deploy:
        for line in cell.facts.imports:
            for name, source in zip(line.writes, line.sources, strict=True):
                bindings.setdefault(name, set()).add(source)
        for piece in cell.facts.pieces:
            for name in piece.flow.writes:
                bindings.setdefault(name, set()).add((cell.index, piece.position, piece.offset))
    return {name for name, found in bindings.items() if len(found) > 1}


def _statements(
    cells: Sequence[CodeCell], kept: dict[int, list[Statement]]
) -> tuple[Statement, ...]:
    statements: list[Statement] = []
    for cell in cells:
        own = [
            Statement(Place(cell.index, piece.position, piece.offset), piece, piece.last, cell)
            for piece in cell.facts.pieces
        ]
        statements += sorted([*own, *kept.get(cell.index, [])], key=lambda s: s.place)
    return tuple(statements)


def static_forms(groups: Sequence[StepCells], bound: Set[str]) -> list[StepCells]:
    """The groups with the names reached at run time written statically where a faithful
    form exists (see `analysis.dynamic`); NotebookError, naming the call, where none does.
    `bound` are the names the notebook binds: a notebook's own `eval` is an ordinary name."""
    builtins = DYNAMIC - bound
    if not builtins:
        return list(groups)
    placed = []
    for group in groups:
        statements = [_static(s, builtins, bound, groups) for s in group.statements]
        changed = any(new is not old for new, old in zip(statements, group.statements, strict=True))
        placed.append(replace(group, statements=tuple(statements)) if changed else group)
    return placed


def _static(
    statement: Statement, builtins: Set[str], bound: Set[str], groups: Sequence[StepCells]
) -> Statement:
    if builtins.isdisjoint(statement.flow.names_read):
        return statement
    node = statement.node
    found = static_form(node, builtins, bound)
    if isinstance(found, Reached):
        line = line_of(statement, groups)
        raise NotebookError(
            f"`{found.call}` {found.why}: in the pipeline the notebook's names live inside step "
            "functions, out of its reach; write the names out (`eval('rows')` is `rows`, "
            "`globals()['rows']` is `rows`), or leave the cell unmarked",
            cell=statement.cell,
            line=None if line is None else line + line_within(node, found.node),
        )
    if found is node:
        return statement
    piece = statement.piece
    rewritten = piece_of(found, piece.position, piece.offset, piece.last)
    return replace(statement, piece=rewritten, source=None, made=found)


def _step_key(cell: CodeCell) -> tuple[str, object]:
    if cell.step is not None:
        return ("named", cell.step)
    return ("heading", cell.heading)


def without_imports(statement: cst.BaseStatement, imports: Imports) -> list[cst.BaseStatement]:
    """Hoist the imports of a statement line; what else it holds stays, without semicolons."""
    kept, hoisted = hoist(statement)
    for line in hoisted:
        imports.add(line)
    return kept


def line_of(statement: Statement, groups: Sequence[StepCells]) -> int | None:
    """The line, within its cell, on which a statement starts (computed only for messages)."""
    position = statement.place.position - 1
    for group in groups:
        for cell in group.cells:
            if cell.index == statement.cell and 0 <= position < len(cell.tree.body):
                return statement_lines(cell.tree)[position]
    return None


def free_names(statement: Statement) -> frozenset[str]:
    """Names a def or class reads from the enclosing scope, now or when called."""
    assert statement.is_definition
    return frozenset(statement.flow.names_read)


def uses(statement: Statement, name: str) -> bool:
    return statement.flow.reads_name(name)


def names_read(statement: Statement) -> set[str]:
    return set(statement.flow.names_read)


def bound_by(cell: CodeCell) -> set[str]:
    return {n for flow in cell.facts.flows for n in flow.writes}


def bound_by_reads(cell: CodeCell) -> set[str]:
    return set(sequence(cell.facts.flows).names_read)
