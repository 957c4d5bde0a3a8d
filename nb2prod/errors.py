"""Errors and warnings in the user's coordinates: notebook, cell and line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Diagnostic:
    """A message about a place in a notebook; `cell` and `line` count from 1.

    A warning says what to look at; a note (`note`) only tells what the build found.
    """

    message: str
    cell: int | None = None
    line: int | None = None
    warning: bool = False
    note: bool = False

    def in_cell(self, cell: int, line_offset: int = 0) -> Diagnostic:
        """The same message placed in a cell, its line shifted by `line_offset`."""
        line = None if self.line is None else self.line + line_offset
        return replace(self, cell=cell, line=line)

    def render(self, path: Path | str) -> str:
        """`PATH: cell N, line M: message` on one line, leaving out what is unknown."""
        where = [printable(str(path))]
        if self.cell is not None:
            place = f"cell {self.cell}"
            if self.line is not None:
                place += f", line {self.line}"
            where.append(place)
        kind = "warning: " if self.warning else ""
        return ": ".join(where) + f": {kind}{printable(self.message)}"


def render_all(path: Path | str, diagnostics: Iterable[Diagnostic]) -> tuple[str, ...]:
    """Each diagnostic as its one line about `path`."""
    shown = path.as_posix() if isinstance(path, Path) else path
    return tuple(d.render(shown) for d in diagnostics)


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


def warning(message: str, cell: int | None = None, line: int | None = None) -> Diagnostic:
    """A warning: the build goes on, but the user should look."""
    return Diagnostic(message, cell, line, warning=True)
