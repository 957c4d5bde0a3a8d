"""Pick the parameters, deploy and test cells from a notebook, with their marks and headings.

Marks come as Jupyter tags (`deploy`, `parameters`, `test`, `step:NAME`) or as `#| ...` lines at
the top of a cell; comment marks are blanked so the cell keeps its line numbers. Each selected
cell is cleaned of IPython syntax and its facts gathered (or found in the cache), and errors
carry the cell and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING

import libcst as cst

from nb2prod.analysis.facts import CellFacts, Parsed, cell_key, lookup, parse
from nb2prod.errors import Diagnostic, NotebookError
from nb2prod.notebook.reader import Cell, Notebook

if TYPE_CHECKING:
    from nb2prod.caching.store import Cache


class Role(Enum):
    """What a code cell is for in the pipeline."""

    DEPLOY = "deploy"
    PARAMETERS = "parameters"
    TEST = "test"
    UNMARKED = "unmarked"


@dataclass(frozen=True)
class Heading:
    """The markdown heading a cell sits under."""

    cell: int
    text: str


@dataclass(frozen=True)
class CodeCell:
    """A code cell ready for analysis: cleaned, with its marks and facts.

    `key` names the source the code was cleaned from (the cache key of its facts). `parsed`
    is the tree the facts were gathered from; a cell whose facts came from the cache is parsed
    only when something asks for its tree.
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


@dataclass(frozen=True)
class Marks:
    """The marks of one cell, and its source with comment marks blanked."""

    roles: frozenset[Role]
    step: str | None
    source: str


_MARK_LINE = re.compile(r"#\|\s*(?P<mark>[A-Za-z_-]+)\s*(?::\s*(?P<value>.*?))?\s*$")
_ATX = re.compile(r"^ {0,3}#{1,6}\s+(?P<text>.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def read_marks(cell: Cell) -> Marks:
    """The roles and step name a cell's tags and leading `#|` lines give it."""
    roles: set[Role] = set()
    step: str | None = None
    for tag in cell.tags:
        name, _, value = tag.partition(":")
        role, named = _mark(name.strip().lower(), value.strip() if value else None)
        if role is not None:
            roles.add(role)
        step = named or step
    lines = cell.source.split("\n")
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        match = _MARK_LINE.fullmatch(stripped)
        if match is None:
            break
        role, named = _mark(match["mark"].lower(), match["value"])
        if role is None and named is None:
            continue  # another tool's directive (nbdev, Quarto): leave it as a comment
        roles.add(role or Role.DEPLOY)
        step = named or step
        lines[number] = ""
    return Marks(frozenset(roles), step, "\n".join(lines))


def _mark(name: str, value: str | None) -> tuple[Role | None, str | None]:
    if name == "step" and value:
        return Role.DEPLOY, value  # a named step is deploy code
    roles = {"deploy": Role.DEPLOY, "parameters": Role.PARAMETERS, "test": Role.TEST}
    return roles.get(name), None


def select(notebook: Notebook, cache: Cache | None = None) -> Selection:
    """Every code cell with its role, cleaned of IPython syntax, and its facts (from `cache`
    when they are kept there, else by parsing it).

    Raises NotebookError for a marked cell that cannot be lifted.
    """
    from nb2prod.caching.store import NoCache

    cache = cache or NoCache()
    cells: list[CodeCell] = []
    notes: list[Diagnostic] = []
    heading: Heading | None = None
    title: str | None = None
    for cell in notebook.cells:
        if cell.kind == "markdown":
            text = last_heading(cell.source)
            heading = Heading(cell.index, text) if text is not None else heading
            title = title or first_heading(cell.source)
        elif cell.kind == "code":
            parsed = _code_cell(cell, heading, notes, cache)
            if parsed is not None:
                cells.append(parsed)
    return Selection(tuple(cells), tuple(notes), title)


def _code_cell(
    cell: Cell, heading: Heading | None, notes: list[Diagnostic], cache: Cache
) -> CodeCell | None:
    marks = read_marks(cell)
    role = _role(cell.index, marks.roles)
    strict = role is not Role.UNMARKED
    key = cell_key(marks.source, strict=strict)
    try:
        found = lookup(marks.source, key, cache, strict=strict)
    except NotebookError as exc:
        raise exc.in_cell(cell.index) from None
    notes.extend(note.in_cell(cell.index) for note in found.notes)
    if found.facts is None:
        return None  # exploration code that does not parse cannot hide state we lift
    return CodeCell(
        index=cell.index,
        role=role,
        code=found.code,
        key=key,
        facts=found.facts,
        step=marks.step,
        heading=heading,
        result_text=cell.result_text,
        parsed=found.parsed,
    )


def _role(index: int, roles: frozenset[Role]) -> Role:
    if Role.PARAMETERS in roles:
        return Role.PARAMETERS
    if {Role.TEST, Role.DEPLOY} <= roles:
        raise NotebookError(
            "is marked both deploy and test; a test cell checks the pipeline but is not part "
            "of it, so keep one mark",
            cell=index,
        )
    if Role.TEST in roles:
        return Role.TEST
    return Role.DEPLOY if Role.DEPLOY in roles else Role.UNMARKED


def first_heading(markdown: str) -> str | None:
    """The text of the first heading in a markdown cell: the notebook's title when first."""
    headings = _headings(markdown)
    return headings[0] if headings else None


def last_heading(markdown: str) -> str | None:
    """The text of the last ATX or setext heading in a markdown cell, outside code fences."""
    headings = _headings(markdown)
    return headings[-1] if headings else None


def _headings(markdown: str) -> list[str]:
    """Every ATX or setext heading of a markdown cell, outside code fences, in order."""
    found: list[str] = []
    fenced = False
    previous = ""
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            atx = _ATX.match(line)
            if atx and atx["text"].strip():
                found.append(atx["text"].strip())
            elif _SETEXT.match(line) and previous.strip():
                found.append(previous.strip())
        previous = "" if fenced else line
    return found


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
