"""Errors and warnings in the user's coordinates: notebook, cell and line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Diagnostic:
    """A message about a place in a notebook; `cell` and `line` count from 1.

    In a text notebook `file_line` is the same place as a line of the file, which is what an
    editor jumps to; it is set where the notebook is known (`Notebook.placed`). A warning
    says what to look at; a note (`note`) only tells what the build found.
    """

    message: str
    cell: int | None = None
    line: int | None = None
    warning: bool = False
    file_line: int | None = None
    note: bool = False

    def in_cell(self, cell: int, line_offset: int = 0) -> Diagnostic:
        """The same message placed in a cell, its line shifted by `line_offset`."""
        line = None if self.line is None else self.line + line_offset
        return replace(self, cell=cell, line=line)

    def at_file_line(self, first_line: int) -> Diagnostic:
        """The same message placed in a text notebook whose cell starts at `first_line`."""
        return replace(self, file_line=first_line + (self.line or 1) - 1)

    def render(self, path: Path | str) -> str:
        """`PATH: cell N, line M: message` on one line, leaving out what is unknown; in a text
        notebook `PATH: line L (cell N, line M): message`."""
        where = [printable(str(path))]
        if self.cell is not None:
            place = f"cell {self.cell}"
            if self.line is not None:
                place += f", line {self.line}"
            where.append(place if self.file_line is None else f"line {self.file_line} ({place})")
        return ": ".join(where) + f": {self._text()}"

    def _text(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{kind}{printable(self.message)}"


# A warning repeated in this many cells or more is shown once, naming the first cells.
REPEATED = 2
_CELLS_SHOWN = 3


def render_all(path: Path | str, diagnostics: Iterable[Diagnostic]) -> tuple[str, ...]:
    """Each diagnostic as its one line about `path`; a warning with the same message in several
    cells is one line at its first place, with the count and the first cells."""
    shown = path.as_posix() if isinstance(path, Path) else path
    listed = list(diagnostics)
    cells: dict[str, list[int]] = {}
    for d in listed:
        if d.warning and d.cell is not None and d.cell not in cells.setdefault(d.message, []):
            cells[d.message].append(d.cell)
    lines: list[str] = []
    done: set[str] = set()
    for d in listed:
        repeated = d.warning and len(cells.get(d.message, ())) >= REPEATED
        if not repeated:
            lines.append(d.render(shown))
        elif d.message not in done:
            done.add(d.message)
            lines.append(_render_repeated(shown, d, cells[d.message]))
    return tuple(lines)


def _render_repeated(path: str, first: Diagnostic, cells: list[int]) -> str:
    """`PATH: cells 10, 11, 16 and 297 more: warning: message` (in a text notebook,
    `PATH: line L (cells ...)`, L the first one's line)."""
    named = [str(cell) for cell in cells[:_CELLS_SHOWN]]
    rest = len(cells) - len(named)
    place = f"cells {', '.join(named[:-1])} and {named[-1]}"
    if rest:
        place = f"cells {', '.join(named)} and {rest} more"
    if first.file_line is not None:
        place = f"line {first.file_line} ({place})"
    return f"{printable(path)}: {place}: {first._text()}"


def one_line(text: str, limit: int = 120) -> str:
    """Text folded onto one printable line of at most `limit` characters, for a message, a
    comment or a docstring."""
    folded = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return folded if len(folded) <= limit else folded[: limit - 3] + "..."


def printable(text: str) -> str:
    """`text` with line breaks and other control characters escaped, so a message stays one line.

    A file name may hold a line break; printed raw it would split one message in two.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class NotebookError(Exception):
    """A problem with the user's notebook or output that stops its build."""

    def __init__(self, message: str, cell: int | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(message, cell, line)

    def in_cell(self, cell: int, line_offset: int = 0) -> NotebookError:
        """The same error placed in a cell (used when a stage only knew the line)."""
        moved = self.diagnostic.in_cell(cell, line_offset)
        return NotebookError(moved.message, moved.cell, moved.line)

    @classmethod
    def of(cls, diagnostic: Diagnostic) -> NotebookError:
        """An error carrying `diagnostic` as it is (placed in a text notebook's file, say)."""
        error = cls(diagnostic.message, diagnostic.cell, diagnostic.line)
        error.diagnostic = diagnostic
        return error


def warning(message: str, cell: int | None = None, line: int | None = None) -> Diagnostic:
    """A warning: the build goes on, but the user should look."""
    return Diagnostic(message, cell, line, warning=True)
