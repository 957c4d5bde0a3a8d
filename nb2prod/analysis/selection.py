"""The notebook's code cells by role, each with its cleaned code and facts: the lift's input."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import libcst as cst

from nb2prod.analysis.facts import CellFacts, Found, Parsed, examine, parse
from nb2prod.errors import Diagnostic, NotebookError
from nb2prod.notebook import DIALECTS
from nb2prod.notebook.cells import Heading, MarkedCell, MarkedNotebook, Role, mark
from nb2prod.notebook.reader import Notebook


@dataclass(frozen=True)
class CodeCell:
    """A code cell ready for the lift: cleaned, with its marks and facts.

    `key` is a digest of the cleaned code, which names the cell's statements in the identity
    of the steps made from them. `parsed` is the tree the facts were gathered from; a cell
    whose facts were kept from an earlier build is parsed only when something asks for its tree.
    """

    index: int
    role: Role
    code: str
    key: str
    facts: CellFacts
    step: str | None = None
    heading: Heading | None = None
    result_text: str | None = None
    parsed: Parsed | None = field(default=None, compare=False, repr=False)

    @property
    def suppressed(self) -> bool:
        return self.facts.suppressed

    @property
    def tree(self) -> cst.Module:
        return self._parsed.tree

    @property
    def nodes(self) -> dict[tuple[int, int], cst.BaseStatement]:
        """The statements of the facts' pieces, by (position, offset)."""
        return self._parsed.nodes

    @cached_property
    def _parsed(self) -> Parsed:
        return self.parsed if self.parsed is not None else parse(self.code)


@dataclass(frozen=True)
class Selection:
    """The notebook's code cells by role, in notebook order, and the warnings found."""

    cells: tuple[CodeCell, ...]
    warnings: tuple[Diagnostic, ...] = ()
    title: str | None = None

    def with_role(self, *roles: Role) -> tuple[CodeCell, ...]:
        return tuple(cell for cell in self.cells if cell.role in roles)


CellExaminer = Callable[[Sequence[MarkedCell]], Sequence["Found | None"]]


def select(
    notebook: Notebook, examine: CellExaminer | None = None, marks: Collection[str] = DIALECTS
) -> Selection:
    """Every code cell of `notebook` with its role, cleaned code and facts.

    `examine` gives the cleaned code and facts of a batch of cells (by default `examine_cells`);
    `marks` are the dialects of marks read (nb2prod's, Kale's, nbdev's).
    """
    marked = mark(notebook, marks)
    return assemble(marked, (examine or examine_cells)(marked.cells))


def examine_cells(cells: Sequence[MarkedCell]) -> list[Found]:
    """Each cell's cleaned code and facts, gathered now."""
    return [examine_cell(cell) for cell in cells]


def examine_cell(cell: MarkedCell) -> Found:
    """A marked cell's cleaned code and facts; a NotebookError names the cell."""
    try:
        return examine(cell.source, strict=cell.strict)
    except NotebookError as exc:
        raise exc.in_cell(cell.index) from None


def assemble(marked: MarkedNotebook, found: Sequence[Found | None]) -> Selection:
    """The selection from each marked cell and what examining it found, in the same order."""
    cells: list[CodeCell] = []
    notes: list[Diagnostic] = []
    for cell, seen in zip(marked.cells, found, strict=True):
        assert seen is not None
        notes.extend(cell.notes)
        notes.extend(note.in_cell(cell.index) for note in seen.notes)
        if seen.facts is None:
            continue  # exploration code that does not parse cannot hide state we lift
        cells.append(
            CodeCell(
                index=cell.index,
                role=cell.role,
                code=seen.code,
                key=hashlib.sha256(seen.code.encode("utf-8", "surrogatepass")).hexdigest(),
                facts=seen.facts,
                step=cell.step,
                heading=cell.heading,
                result_text=cell.result_text,
                parsed=seen.parsed,
            )
        )
    return Selection(tuple(cells), tuple(notes), marked.title)


def statement_lines(module: cst.Module) -> list[int]:
    """The line, within the cell, on which each top-level statement starts."""
    line = 1 + len(module.header)
    starts = []
    for statement in module.body:
        line += len(statement.leading_lines)
        starts.append(line)
        bare = statement.with_changes(leading_lines=())
        line += cst.Module([]).code_for_node(bare).count("\n")
    return starts
