"""The marks of a notebook's code cells: their roles, step names and headings.

Marks come as Jupyter tags (`deploy`, `parameters`, `test`, `serve`, `step:NAME`) or as `#| ...`
lines at the top of a cell; comment marks are blanked so the cell keeps its line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from nb2prod.errors import NotebookError
from nb2prod.notebook.reader import Cell, Notebook

if TYPE_CHECKING:
    pass


class Role(Enum):
    """What a code cell is for in the pipeline."""

    DEPLOY = "deploy"
    PARAMETERS = "parameters"
    TEST = "test"
    SERVE = "serve"  # deploy code that holds serving functions: the notebook runs it too
    UNMARKED = "unmarked"


# The roles of the cells the pipeline runs, in notebook order.
PIPELINE_ROLES = (Role.DEPLOY, Role.SERVE)


@dataclass(frozen=True)
class Heading:
    """The markdown heading a cell sits under."""

    cell: int
    text: str


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
    roles = {
        "deploy": Role.DEPLOY,
        "parameters": Role.PARAMETERS,
        "test": Role.TEST,
        "serve": Role.SERVE,
    }
    return roles.get(name), None


@dataclass(frozen=True)
class MarkedCell:
    """A code cell with its role and marks; `source` has its comment marks blanked, so the
    cell keeps its line numbers."""

    index: int
    role: Role
    source: str
    step: str | None = None
    heading: Heading | None = None
    result_text: str | None = None

    @property
    def strict(self) -> bool:
        """Marked cells must be liftable; exploration cells may hold anything."""
        return self.role is not Role.UNMARKED


@dataclass(frozen=True)
class MarkedNotebook:
    """A notebook's code cells with their marks, in order, and its title (first heading)."""

    cells: tuple[MarkedCell, ...]
    title: str | None = None


def mark(notebook: Notebook) -> MarkedNotebook:
    """Every code cell with its role, step name and the heading it sits under.

    Raises NotebookError for a cell whose marks contradict each other.
    """
    cells: list[MarkedCell] = []
    heading: Heading | None = None
    title: str | None = None
    for cell in notebook.cells:
        if cell.kind == "markdown":
            text = last_heading(cell.source)
            heading = Heading(cell.index, text) if text is not None else heading
            title = title or first_heading(cell.source)
        elif cell.kind == "code":
            marks = read_marks(cell)
            role = _role(cell.index, marks.roles)
            cells.append(
                MarkedCell(cell.index, role, marks.source, marks.step, heading, cell.result_text)
            )
    return MarkedNotebook(tuple(cells), title)


def _role(index: int, roles: frozenset[Role]) -> Role:
    if Role.SERVE in roles:
        return _serve_role(index, roles)
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


def _serve_role(index: int, roles: frozenset[Role]) -> Role:
    """A serve cell is deploy code too (a `deploy` or `step:` mark beside it changes nothing);
    it is no test and holds no parameters."""
    for other, why in (
        (Role.TEST, "a test checks the pipeline but is not part of it"),
        (Role.PARAMETERS, "the parameters cell only assigns values"),
    ):
        if other in roles:
            raise NotebookError(
                f"is marked both serve and {other.value}; {why}, and a serve cell holds the "
                "functions that score new cases, so keep one mark",
                cell=index,
            )
    return Role.SERVE


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
