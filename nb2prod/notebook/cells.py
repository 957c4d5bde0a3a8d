"""The marks of a notebook's code cells: their roles, step names and headings.

Marks come in dialects, each read only when the build asks for it (`marks` in the options):

- `nb2prod`: Jupyter tags (`deploy`, `parameters`, `test`, `serve`, `step:NAME`) or the same as
  `#| ...` lines at the top of a cell;
- `kale`: Kale's cell tags (`imports`, `functions`, `pipeline-parameters`, `pipeline-metrics`,
  `step:NAME`, `block:NAME`, `skip`, `prev:NAME`); as in Kale, an untagged cell belongs to the
  block of the tagged cell before it;
- `nbdev`: `#| export`, `#| exporti` and `#| exports` lines; `#| eval: false` leaves a cell out.

Comment marks are blanked so the cell keeps its line numbers; other `#|` directives (nbdev's
`hide`, Quarto's options) stay as comments.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from nb2prod.errors import Diagnostic, NotebookError, warning
from nb2prod.notebook import DIALECTS
from nb2prod.notebook.magics import UNWRAP_CELL
from nb2prod.notebook.reader import Cell, Notebook


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
class Mark:
    """One mark on a cell as its author wrote it (`text`), in one tool's `dialect`: the role it
    gives, or that it leaves the cell out (`excludes`), and a step name."""

    dialect: str
    text: str
    role: Role | None = None
    step: str | None = None
    excludes: bool = False
    opens_block: bool = False  # Kale: the untagged cells after it belong to this cell's block


@dataclass(frozen=True)
class Marks:
    """The marks of one cell, and its source with comment marks blanked."""

    roles: frozenset[Role]
    step: str | None
    source: str
    found: tuple[Mark, ...] = ()
    notes: tuple[str, ...] = ()  # marks read but ignored, said as warnings

    @property
    def excluded_by(self) -> Mark | None:
        """The mark that leaves the cell out of the pipeline, if any."""
        return next((mark for mark in self.found if mark.excludes), None)


_MARK_LINE = re.compile(r"#\|\s*(?P<mark>[A-Za-z_-]+)(?:\s*:\s*|\s+|$)(?P<value>.*?)\s*$")
_ATX = re.compile(r"^ {0,3}#{1,6}\s+(?P<text>.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")

_NB2PROD = {
    "deploy": Role.DEPLOY,
    "parameters": Role.PARAMETERS,
    "test": Role.TEST,
    "serve": Role.SERVE,
}
_KALE_ROLES = {
    "imports": Role.DEPLOY,
    "functions": Role.DEPLOY,
    "pipeline-metrics": Role.DEPLOY,
    "pipeline-parameters": Role.PARAMETERS,
}
# Tags only Kale writes: a notebook with one of them is read with Kale's rule for untagged cells.
_KALE_ONLY = (*_KALE_ROLES, "skip", "block", "prev", "limit", "annotation", "label")
_NBDEV_EXPORTS = frozenset({"export", "exporti", "exports"})
_FALSE = frozenset({"false", "no", "0", "off"})

PREV_NOTE = (
    "Kale's `prev:` tags are ignored: the dataflow between the cells decides the order of the steps"
)
POD_NOTE = (
    "Kale's pod tags (`limit:`, `annotation:`, `label:`) are ignored; set pod resources "
    "where the pipeline is deployed"
)
EVAL_FALSE_NOTE = (
    "`#| eval: false` (nbdev) leaves this cell out of the pipeline; remove the mark to lift it"
)


def read_marks(cell: Cell, dialects: Collection[str] = DIALECTS) -> Marks:
    """The roles and step name a cell's tags and leading `#|` lines give it, in `dialects`."""
    found: list[Mark] = []
    notes: list[str] = []
    for tag in cell.tags:
        mark, note = _tag_mark(tag, dialects)
        found += [mark] if mark else []
        notes += [note] if note and note not in notes else []
    lines = cell.source.split("\n")
    marked: list[int] = []
    start, body_is_code = _after_cell_magic(lines)
    for number in range(start, len(lines)):
        stripped = lines[number].strip()
        if not stripped:
            continue
        match = _MARK_LINE.fullmatch(stripped)
        if match is None:
            if stripped.startswith("%%"):
                # IPython takes a cell magic on the first line only: marks above it stay, so
                # that the magic is refused where it stands, as IPython refuses it
                marked = []
            break
        mark = _comment_mark(match["mark"].lower(), match["value"], stripped, dialects)
        if mark is None:
            continue  # another tool's directive (nbdev's hide, Quarto): leave it as a comment
        found.append(mark)
        if mark.excludes and mark.dialect == "nbdev":
            notes.append(EVAL_FALSE_NOTE)
        else:
            marked.append(number)
    for number in marked if body_is_code else ():
        lines[number] = ""  # the text of a %%writefile cell is written as it is, marks too
    roles = frozenset(mark.role for mark in found if mark.role is not None)
    step = next((mark.step for mark in reversed(found) if mark.step), None)
    return Marks(roles, step, "\n".join(lines), tuple(found), tuple(notes))


def _after_cell_magic(lines: list[str]) -> tuple[int, bool]:
    """Where marks start: after a cell magic on the first line (`%%time` must come first in
    IPython, so its marks follow it), else at the top; and whether what follows is code."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return 0, True
    name = lines[first].strip()[2:].partition(" ")[0]
    return first + 1, name in UNWRAP_CELL


def _tag_mark(tag: str, dialects: Collection[str]) -> tuple[Mark | None, str | None]:
    """The mark a Jupyter tag makes in `dialects`, or a note that it is read but ignored."""
    name, _, value = (part.strip() for part in tag.partition(":"))
    name = name.lower()
    shown = f"tag `{tag}`"
    if "kale" in dialects:
        if name == "skip":
            return Mark("kale", shown, excludes=True), None
        if name in _KALE_ROLES and not value:
            # Kale reports the metrics cell's prints as the pipeline's metrics: a step of its own
            step = "pipeline_metrics" if name == "pipeline-metrics" else None
            return Mark("kale", shown, _KALE_ROLES[name], step, opens_block=True), None
        if name in {"step", "block"} and value:
            return Mark("kale", shown, Role.DEPLOY, value, opens_block=True), None
        if name == "block":
            return None, None  # Kale's empty `block:` names nothing: the cell joins the last block
        if name == "prev":
            return None, PREV_NOTE
        if name in {"limit", "annotation", "label"}:
            return None, POD_NOTE
    if "nb2prod" in dialects:
        if name == "step" and value:
            return Mark("nb2prod", shown, Role.DEPLOY, value), None
        if name in _NB2PROD:
            return Mark("nb2prod", shown, _NB2PROD[name]), None
    return None, None


def _comment_mark(name: str, value: str, line: str, dialects: Collection[str]) -> Mark | None:
    """The mark a `#| NAME[: VALUE]` line makes in `dialects`; None for another directive."""
    shown = f"`{line}`"
    if "nb2prod" in dialects:
        if name == "step" and value:
            return Mark("nb2prod", shown, Role.DEPLOY, value)
        if name in _NB2PROD:
            return Mark("nb2prod", shown, _NB2PROD[name])
    if "nbdev" in dialects:
        if name in _NBDEV_EXPORTS:
            return Mark("nbdev", shown, Role.DEPLOY)
        if name == "eval" and value.lower() in _FALSE:
            return Mark("nbdev", shown, excludes=True)
    return None


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
    notes: tuple[Diagnostic, ...] = ()

    @property
    def strict(self) -> bool:
        """Marked cells must be liftable; exploration cells may hold anything."""
        return self.role is not Role.UNMARKED


@dataclass(frozen=True)
class MarkedNotebook:
    """A notebook's code cells with their marks, in order, and its title (first heading)."""

    cells: tuple[MarkedCell, ...]
    title: str | None = None


@dataclass(frozen=True)
class _Block:
    """Kale's current block: what an untagged cell after it becomes."""

    role: Role
    step: str | None


def mark(notebook: Notebook, dialects: Collection[str] = DIALECTS) -> MarkedNotebook:
    """Every code cell with its role, step name and the heading it sits under, reading the
    marks of `dialects`.

    Raises NotebookError for a cell whose marks contradict each other.
    """
    marks = {c.index: read_marks(c, dialects) for c in notebook.cells if c.kind == "code"}
    kale = "kale" in dialects and any(map(_is_kale_only, _all_tags(notebook)))
    cells: list[MarkedCell] = []
    heading: Heading | None = None
    title: str | None = None
    block: _Block | None = None
    for cell in notebook.cells:
        if cell.kind == "markdown":
            text = last_heading(cell.source)
            heading = Heading(cell.index, text) if text is not None else heading
            title = title or first_heading(cell.source)
        elif cell.kind == "code":
            found = marks[cell.index]
            role, step = _role(cell.index, found), found.step
            if kale and not found.found and block is not None:
                role, step = block.role, block.step  # Kale: an untagged cell joins the block
            elif kale and any(m.opens_block for m in found.found):
                block = _Block(role, step)
            notes = tuple(warning(note, cell.index) for note in found.notes)
            cells.append(
                MarkedCell(cell.index, role, found.source, step, heading, cell.result_text, notes)
            )
    return MarkedNotebook(tuple(cells), title)


def _all_tags(notebook: Notebook) -> list[str]:
    return [tag for cell in notebook.cells if cell.kind == "code" for tag in cell.tags]


def _is_kale_only(tag: str) -> bool:
    return tag.partition(":")[0].strip().lower() in _KALE_ONLY


def _role(index: int, marks: Marks) -> Role:
    roles = marks.roles
    left_out = marks.excluded_by
    if left_out is not None:
        lifting = next((m for m in marks.found if m.role is not None), None)
        if lifting is not None:
            raise NotebookError(
                f"is marked {left_out.text} ({left_out.dialect}), which leaves it out of the "
                f"pipeline, and {lifting.text} ({lifting.dialect}), which lifts it; keep one "
                "of the two",
                cell=index,
            )
        return Role.UNMARKED
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
