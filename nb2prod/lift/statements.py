"""Deploy cells as statements with their flows, grouped into steps; imports hoisted.

A step is a run of consecutive deploy cells under one markdown heading or one `step:NAME`
mark. Imports leave the steps for the top of the module, de-duplicated in order, except an
import that would shadow the pipeline's own `run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace
from typing import NamedTuple

import libcst as cst

from nb2prod.analysis.facts import ImportLine, Piece, hoist, import_line, piece_of
from nb2prod.analysis.flow import Flow, sequence
from nb2prod.analysis.selection import CodeCell, statement_lines

_EMPTY = cst.Module([])


class Place(NamedTuple):
    """Where a statement comes from: its cell, its top-level statement there (counted from 1)
    and which part of that statement it is once imports are hoisted. Places order statements
    as the notebook does, and name them: no two statements of a plan share one."""

    cell: int
    position: int = 0
    offset: int = 0


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


def group_cells(deploy: Sequence[CodeCell], imports: Imports) -> list[StepCells]:
    """Hoist imports and group the remaining statements into steps, in notebook order."""
    runs: list[tuple[tuple[str, object], list[CodeCell]]] = []
    for cell in deploy:
        key = _step_key(cell)
        if not runs or runs[-1][0] != key:
            runs.append((key, []))
        runs[-1][1].append(cell)
        for line in cell.facts.imports:
            imports.add(line)
    return [StepCells(key, tuple(cells), _statements(cells)) for key, cells in runs]


def _statements(cells: Sequence[CodeCell]) -> tuple[Statement, ...]:
    return tuple(
        Statement(Place(cell.index, piece.position, piece.offset), piece, piece.last, cell)
        for cell in cells
        for piece in cell.facts.pieces
    )


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
