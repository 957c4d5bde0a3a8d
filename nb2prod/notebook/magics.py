"""IPython syntax in cells (magics, shell escapes, help), handled before anything parses.

Cells are read as IPython reads them: the common indentation is removed first, and magics are
recognised only where IPython recognises them, at the start of a logical line, never inside a
bracketed expression, a continued line or a multi-line string. Every magic line is replaced in
place (a magic that needs several lines keeps them), so line numbers in the cleaned code are
the notebook's.

Magics with a faithful plain-Python form become that form (`%%writefile`, `%env`, `%pylab`);
those that only serve the notebook session are dropped; those whose effect the code needs are
refused, naming the line.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from nb2prod.errors import Diagnostic, NotebookError, warning

# Line magics that only serve the notebook session or show something: dropped with a warning.
NOTEBOOK_ONLY = frozenset(
    {
        *("matplotlib", "gui", "config", "precision", "pprint", "xmode", "colors"),
        *("load_ext", "reload_ext", "unload_ext", "autoreload", "aimport"),
        *("timeit", "pip", "conda", "mamba", "pdb", "doctest_mode", "rehashx"),
        *("who", "whos", "who_ls", "lsmagic", "magic", "history", "page", "qtconsole"),
        *("pinfo", "pinfo2", "psearch", "notebook", "alias_magic", "automagic", "autocall"),
        *("watermark", "version_information", "tensorflow_version", "output", "opts"),
        *("ls", "ll", "lf", "lk", "lx", "ldir", "cat", "less", "man", "clear"),
        *("quickref", "pdef", "pdoc", "psource", "pfile", "debug"),
    }
)
# Magics that run their argument as Python in the user's namespace: keep the code.
UNWRAP_LINE = frozenset({"time", "prun"})
# Cell magics that run their body as IPython code (holoviews' %%output and %%opts only set
# display options for it): keep the body, read as a cell of its own.
UNWRAP_CELL = frozenset({"time", "capture", "prun", "output", "opts"})
QUIET_CELL = frozenset({"capture", "prun"})  # of those, the ones that show no result
# Cell magics whose body is display or shell only: the whole cell is dropped.
DROP_CELL = frozenset(
    {
        *("timeit", "html", "HTML", "javascript", "js", "markdown", "latex", "svg"),
        *("bash", "sh", "script", "perl", "ruby"),
    }
)
# Cell magics that write the cell's text to a file.
WRITE_CELL = frozenset({"writefile", "file"})

# What `%pylab` puts in the namespace (IPython's pylabtools.import_pylab), as imports.
_PYLAB = (
    "import numpy; import matplotlib; from matplotlib import pylab, mlab, pyplot; "
    "import numpy as np; import matplotlib.pyplot as plt"
)
_PYLAB_ALL = "from matplotlib.pylab import *; from numpy import *"
_PYLAB_IPYTHON = "from IPython.core.pylabtools import figsize, getfigs"

_MAGIC = re.compile(r"(?P<indent>[ \t]*)(?P<sigil>%%?|!!?)(?P<rest>.*)")
_ASSIGNED = re.compile(r"[ \t]*[\w.\[\]'\", ]+?\s*=\s*(?P<sigil>%%?|!!?)(?P<rest>\S.*)?$")
_HELP = re.compile(r"[ \t]*(\?\??%{0,2}[\w.*]*|%{0,2}[\w.*]+\?\??)[ \t]*$")
# IPython's autocall escapes: `,f a b` is f("a", "b"), `;f a b` is f("a b"), `/f a b` is f(a, b)
_ESCAPE = re.compile(r"(?P<indent>[ \t]*)(?P<sigil>[,;/])(?P<rest>.*?)[ \t]*$")
_EXPANDS = re.compile(r"[${]")  # IPython expands `$name` and `{expr}` in magic arguments


@dataclass(frozen=True)
class CleanCode:
    """A cell's code with IPython syntax removed, and the warnings that produced; `quiet` when
    Jupyter shows no result for the cell whatever its code ends with (`%%capture`)."""

    code: str
    warnings: tuple[Diagnostic, ...] = ()
    quiet: bool = False


class _Reading:
    """What reading one cell says: warnings for marked (strict) cells, refusals too.

    An exploration cell is read the same way, but says nothing: it is never lifted, and a
    refused magic there is simply blanked.
    """

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.notes: list[Diagnostic] = []
        self.quiet = False

    def note(self, message: str, line: int) -> None:
        if self.strict:
            self.notes.append(warning(message, line=line))

    def refuse(self, message: str, line: int) -> None:
        """Refuse a marked cell; an exploration cell goes on, the caller blanking the line."""
        if self.strict:
            raise NotebookError(message, line=line)


def clean_cell(source: str, *, strict: bool = True) -> CleanCode:
    """Remove IPython syntax from a cell's source, keeping its line numbers.

    With `strict`, a magic whose value the code needs is a NotebookError naming the line;
    without it (exploration cells), every such magic line is simply blanked, and nothing is
    reported.
    """
    reading = _Reading(strict)
    code = _clean(source, reading)
    return CleanCode(code, tuple(reading.notes), reading.quiet)


def _clean(source: str, reading: _Reading) -> str:
    # IPython removes the indentation all lines share before anything else (a cell whose
    # only line starts with a space runs).
    lines = textwrap.dedent(source).split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].startswith("%%"):
        return _cell_magic(lines, first, reading)
    out = list(lines)
    for number, line in _logical_line_starts(lines):
        end = number
        while lines[end].endswith("\\") and end + 1 < len(lines):
            end += 1
        # a magic or shell command continued with backslashes is one command, as in IPython
        whole = _joined(lines[number : end + 1]) if end > number else line
        replacement = _line_magic(whole, number + 1, reading)
        if replacement is not None:
            out[number : end + 1] = [replacement, *[""] * (end - number)]
    return "\n".join(out)


def _joined(lines: list[str]) -> str:
    """Physical lines continued with backslashes as one line, as IPython joins them."""
    return " ".join([part.rstrip()[:-1] for part in lines[:-1]] + [lines[-1].rstrip()])


def _cell_magic(lines: list[str], first: int, reading: _Reading) -> str:
    """Handle a `%%magic` first line: unwrap the body, write it to a file, drop or refuse."""
    header = lines[first].rstrip()
    name, _, argument = header[2:].partition(" ")
    line = first + 1
    blank = [""] * (first + 1)
    if not "\n".join(lines[first + 1 :]):
        reading.refuse(f"the %%{name} cell has no body; IPython refuses to run it", line)
    elif name in UNWRAP_CELL:
        reading.note(f"dropped the %%{name} cell magic; the cell's code is kept", line)
        reading.quiet = reading.quiet or name in QUIET_CELL
        # the body is IPython code of its own: it may hold magics, even another cell magic
        return _clean("\n".join([*blank, *lines[first + 1 :]]), reading)
    elif name in WRITE_CELL:
        written = _written_file(name, argument, lines, first, reading)
        if written is not None:
            return "\n".join([*blank[:-1], *written])
    elif name in DROP_CELL:
        reading.note(f"dropped the %%{name} cell: it only runs in the notebook", line)
    else:
        reading.refuse(
            f"the %%{name} cell magic does work the pipeline would need; "
            "rewrite the cell in plain Python or leave it unmarked",
            line,
        )
    return "\n".join([""] * len(lines))


def _written_file(
    name: str, argument: str, lines: list[str], first: int, reading: _Reading
) -> list[str] | None:
    """`%%writefile [-a] PATH` as a `with open(PATH)` statement writing the cell's text, on the
    lines the cell gives it; None (after refusing) when the line cannot be read faithfully."""
    target = _file_target(argument)
    line = first + 1
    if target is None:
        reading.refuse(
            f"'%%{name} {argument.strip()}' needs one file name (and -a to append), without "
            "IPython's $name or {expression} expansion; write the file in Python",
            line,
        )
        return None
    path, append = target
    opened = f"open({path!r}, {'a' if append else 'w'!r}, encoding='utf-8')"
    if path.startswith("~"):  # IPython expands the home folder, as os.path.expanduser does
        opened = f"open(__import__('os').path.expanduser({path!r}), {'a' if append else 'w'!r}, "
        opened += "encoding='utf-8')"
    how = "appending" if append else "writing"
    reading.note(f"the %%{name} cell magic becomes {how} the cell's text to {path}", line)
    start = f"with {opened} as _file: _file.write("
    body = lines[first + 1 :]
    # IPython writes the text after the first line, ending with a line break: the text's
    # lines stay on their lines inside a triple-quoted string, which closes on the last one
    text = [_in_triple_quotes(item) for item in body]
    if body[-1] == "":
        text[-1] = '""")'
    else:
        text[-1] += '\\n""")'
    return [start + '"""\\', *text]


def _file_target(argument: str) -> tuple[str, bool] | None:
    """The file `%%writefile` names and whether it appends, as IPython reads its line."""
    if _EXPANDS.search(argument):
        return None
    try:
        words = shlex.split(argument)
    except ValueError:
        return None
    append = any(word in {"-a", "--append"} for word in words)
    names = [word for word in words if word not in {"-a", "--append"}]
    if len(names) != 1 or names[0].startswith("-"):
        return None
    path = names[0]
    if re.match(r"^('.*')|(\".*\")$", path):
        path = path[1:-1]
    return path, append


def _in_triple_quotes(line: str) -> str:
    """One line of text as it stands inside a `\"\"\"` string: backslashes and quote runs
    escaped, control characters (a carriage return would end the line) written as escapes."""
    line = line.replace("\\", "\\\\")
    line = re.sub(r'"(?="")', '\\\\"', line)
    return "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in line)


def _line_magic(line: str, number: int, reading: _Reading) -> str | None:
    """The replacement for one logical line if it is IPython syntax, else None."""
    assigned = _ASSIGNED.match(line)
    if assigned and not line.lstrip().startswith(("%", "!")) and _looks_like_magic_value(assigned):
        reading.refuse(
            f"'{line.strip()}' assigns the output of an IPython magic or shell command; "
            "compute it in Python (subprocess, pathlib, glob) or leave the cell unmarked",
            number,
        )
        return _blank(line)
    if _HELP.match(line) and "?" in line:
        reading.note(f"dropped the help request '{line.strip()}'", number)
        return _blank(line)
    escaped = _ESCAPE.match(line)
    if escaped is not None and (escaped["rest"] or escaped["sigil"] != "/"):
        return _autocall(escaped, number, reading)
    match = _MAGIC.match(line)
    if match is None:
        return None
    indent, sigil, rest = match["indent"], match["sigil"], match["rest"]
    if sigil.startswith("!"):
        reading.note(f"dropped the shell command '{line.strip()}'", number)
        return _blank(line)
    if sigil == "%%":
        reading.refuse(
            f"'{line.strip()}' is a cell magic, which IPython only accepts on a cell's first "
            "line, above any `#|` marks",
            number,
        )
        return _blank(line)
    name, _, argument = rest.partition(" ")
    replacement = _plain_python(name, argument, number, reading)
    if replacement is not None:
        return indent + replacement if replacement else _blank(line)
    if name in UNWRAP_LINE:
        reading.note(f"dropped %{name}; its statement is kept", number)
        return indent + argument.strip() if argument.strip() else _blank(line)
    if name == "load":
        reading.note(
            "dropped %load: Jupyter only puts the file's code into the cell, and running the "
            "cell runs nothing",
            number,
        )
        return _blank(line)
    if name in NOTEBOOK_ONLY:
        reading.note(f"dropped the notebook-only magic '%{name}'", number)
        return _blank(line)
    reading.refuse(
        f"the %{name} magic changes what the code does (files, namespace, environment); "
        "rewrite it in plain Python or leave the cell unmarked",
        number,
    )
    return _blank(line)


def _plain_python(name: str, argument: str, number: int, reading: _Reading) -> str | None:
    """The plain-Python form of `%env` and `%pylab` ('' to drop the line), else None."""
    if name in {"env", "set_env"}:
        return _environment(name, argument, number, reading)
    if name != "pylab":
        return None
    options = argument.split()
    imports = [_PYLAB, *([] if "--no-import-all" in options else [_PYLAB_ALL]), _PYLAB_IPYTHON]
    reading.note(
        "%pylab becomes the imports it makes: numpy, matplotlib, np, plt, figsize and getfigs"
        + ("" if "--no-import-all" in options else ", and every name of pylab and numpy"),
        number,
    )
    return "; ".join(imports)


def _environment(name: str, argument: str, number: int, reading: _Reading) -> str | None:
    """`%env NAME=value` (or `NAME value`) sets os.environ; `%env NAME` reads it."""
    if not argument.strip() and name == "env":
        reading.note("dropped '%env': it only shows the environment", number)
        return ""
    split = "=" if "=" in argument else " "
    key, _, value = argument.partition(split)
    key, value = key.strip(), value.strip()
    if _EXPANDS.search(argument) or not key or re.search(r"\s", key):
        reading.refuse(
            f"'%{name} {argument.strip()}' cannot be read as one variable and its value "
            "(IPython expands $name and {expression} from the notebook's variables); set "
            "os.environ in Python",
            number,
        )
        return ""
    if name == "env" and split not in argument:
        reading.note(f"%env {key} becomes os.environ[{key!r}]", number)
        return f"import os; os.environ[{key!r}]"
    reading.note(f"%{name} becomes setting os.environ[{key!r}]", number)
    return f"import os; os.environ[{key!r}] = {value!r}"


def _autocall(match: re.Match[str], number: int, reading: _Reading) -> str:
    """IPython's `,`, `;` and `/` escapes as the calls IPython makes of them (a `;` alone is
    the expression `("")`, the empty string, as Jupyter shows for it)."""
    function, _, rest = match["rest"].partition(" ")
    sigil = match["sigil"]
    if sigil == ",":
        call = '{}("{}")'.format(function, '", "'.join(rest.split()))
    elif sigil == ";":
        call = f'{function}("{rest}")'
    else:
        call = f"{function}({', '.join(rest.split())})"
    shown = match.group(0).strip()
    reading.note(f"read IPython's escape '{shown}' as `{call}`, as IPython runs it", number)
    return match["indent"] + call


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
