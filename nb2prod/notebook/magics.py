"""IPython syntax in cells (magics, shell escapes, help), handled before anything parses.

Magics are recognised only where IPython recognises them: at the start of a logical line,
never inside a bracketed expression, a continued line or a multi-line string. Every magic
line is replaced in place, so line numbers in the cleaned code are the notebook's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from nb2prod.errors import Diagnostic, NotebookError, warning

# Line magics that only serve the notebook session: the line is dropped with a warning.
NOTEBOOK_ONLY = frozenset(
    {
        *("matplotlib", "pylab", "gui", "config", "precision", "pprint", "xmode", "colors"),
        *("load_ext", "reload_ext", "unload_ext", "autoreload", "aimport"),
        *("timeit", "pip", "conda", "mamba", "pdb", "doctest_mode", "rehashx"),
        *("who", "whos", "who_ls", "lsmagic", "magic", "history", "page", "qtconsole"),
        *("pinfo", "pinfo2", "psearch", "notebook", "alias_magic", "automagic", "autocall"),
    }
)
# Magics that run their argument as Python in the user's namespace: keep the code.
UNWRAP_LINE = frozenset({"time", "prun"})
UNWRAP_CELL = frozenset({"time", "capture", "prun"})
# Cell magics whose body is display or shell only: the whole cell is dropped.
DROP_CELL = frozenset(
    {
        *("timeit", "html", "HTML", "javascript", "js", "markdown", "latex", "svg"),
        *("bash", "sh", "script", "perl", "ruby"),
    }
)

_MAGIC = re.compile(r"(?P<indent>[ \t]*)(?P<sigil>%%?|!!?)(?P<rest>.*)")
_ASSIGNED = re.compile(r"[ \t]*[\w.\[\]'\", ]+?\s*=\s*(?P<sigil>%%?|!!?)(?P<rest>\S.*)?$")
_HELP = re.compile(r"[ \t]*(\?\??[\w.]+|[\w.]+\?\??)[ \t]*$")


@dataclass(frozen=True)
class CleanCode:
    """A cell's code with IPython syntax removed, and the warnings that produced."""

    code: str
    warnings: tuple[Diagnostic, ...] = ()


def clean_cell(source: str, *, strict: bool = True) -> CleanCode:
    """Remove IPython syntax from a cell's source, keeping its line numbers.

    With `strict`, a magic whose value the code needs is a NotebookError naming the line;
    without it (exploration cells), every magic line is simply blanked.
    """
    lines = source.split("\n")
    notes: list[Diagnostic] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        return _cell_magic(lines, first, notes, strict)
    out = list(lines)
    for number, line in _logical_line_starts(lines):
        replacement = _line_magic(line, number + 1, notes, strict)
        if replacement is not None:
            out[number] = replacement
    return CleanCode("\n".join(out), tuple(notes))


def _cell_magic(lines: list[str], first: int, notes: list[Diagnostic], strict: bool) -> CleanCode:
    """Handle a `%%magic` first line: unwrap the body, drop the cell, or refuse."""
    header = lines[first].strip()
    name = header[2:].split(maxsplit=1)[0] if len(header) > 2 else ""
    line = first + 1
    body = [*[""] * (first + 1), *lines[first + 1 :]]
    if name in UNWRAP_CELL:
        notes.append(
            warning(f"dropped the %%{name} cell magic; the cell's code is kept", line=line)
        )
        return CleanCode("\n".join(body), tuple(notes))
    if name in DROP_CELL or not strict:
        if strict:
            notes.append(
                warning(f"dropped the %%{name} cell: it only runs in the notebook", line=line)
            )
        return CleanCode("\n".join([""] * len(lines)), tuple(notes))
    raise NotebookError(
        f"the %%{name} cell magic does work the pipeline would need; "
        "rewrite the cell in plain Python or leave it unmarked",
        line=line,
    )


def _line_magic(line: str, number: int, notes: list[Diagnostic], strict: bool) -> str | None:
    """The replacement for one logical line if it is IPython syntax, else None."""
    assigned = _ASSIGNED.match(line)
    if assigned and not line.lstrip().startswith(("%", "!")) and _looks_like_magic_value(assigned):
        if strict:
            raise NotebookError(
                f"'{line.strip()}' assigns the output of an IPython magic or shell command; "
                "compute it in Python (subprocess, pathlib, glob) or leave the cell unmarked",
                line=number,
            )
        return _blank(line)
    if _HELP.match(line) and "?" in line:
        if strict:
            notes.append(warning(f"dropped the help request '{line.strip()}'", line=number))
        return _blank(line)
    match = _MAGIC.match(line)
    if match is None:
        return None
    indent, sigil, rest = match["indent"], match["sigil"], match["rest"]
    if sigil.startswith("!"):
        if strict:
            notes.append(warning(f"dropped the shell command '{line.strip()}'", line=number))
        return _blank(line)
    if sigil == "%%":
        if strict:
            raise NotebookError(
                f"'{line.strip()}' is a cell magic, which IPython only accepts on a cell's "
                "first line",
                line=number,
            )
        return _blank(line)
    name, _, argument = rest.partition(" ")
    if name in UNWRAP_LINE:
        if strict:
            notes.append(warning(f"dropped %{name}; its statement is kept", line=number))
        return indent + argument.strip() if argument.strip() else _blank(line)
    if name in NOTEBOOK_ONLY or not strict:
        if strict:
            notes.append(warning(f"dropped the notebook-only magic '%{name}'", line=number))
        return _blank(line)
    raise NotebookError(
        f"the %{name} magic changes what the code does (files, namespace, environment); "
        "rewrite it in plain Python or leave the cell unmarked",
        line=number,
    )


def _looks_like_magic_value(match: re.Match[str]) -> bool:
    """`x = !ls` or `x = %sx ls`, but not `x = y % z` (the `%` must start the value)."""
    rest = match["rest"] or ""
    return match["sigil"].startswith("!") or bool(re.match(r"[A-Za-z_]", rest))


def _blank(line: str) -> str:
    """An empty line at top level; `pass` where a block must keep a statement."""
    indent = line[: len(line) - len(line.lstrip())]
    return indent + "pass" if indent else ""


def _logical_line_starts(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Yield (index, line) of every physical line that starts a logical line."""
    scanner = _Scanner()
    for number, line in enumerate(lines):
        if scanner.at_start():
            yield number, line
        scanner.feed(line)


class _Scanner:
    """Tracks brackets, strings and continuations across physical lines."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None  # the open string's delimiter, across lines
        self.continued = False

    def at_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        self.continued = False
        i, n = 0, len(line)
        while i < n:
            if self.quote is not None:
                i = self._in_string(line, i)
                continue
            char = line[i]
            if char == "#":
                return
            if char in "\"'":
                triple = line[i : i + 3]
                self.quote = triple if triple in ('"""', "'''") else char
                i += len(self.quote)
            elif char in "([{":
                self.depth += 1
                i += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
                i += 1
            elif char == "\\" and i == n - 1:
                self.continued = True
                i += 1
            else:
                i += 1
        if self.quote is not None and len(self.quote) == 1 and not line.endswith("\\"):
            self.quote = None  # an unterminated one-line string: a syntax error, reported later

    def _in_string(self, line: str, i: int) -> int:
        """Advance through string content; close the string at its delimiter."""
        assert self.quote is not None
        if line[i] == "\\":
            return i + 2
        if line.startswith(self.quote, i):
            i += len(self.quote)
            self.quote = None
            return i
        return i + 1
