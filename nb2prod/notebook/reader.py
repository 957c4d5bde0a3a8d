"""Read and validate a notebook file into plain values (the only nbformat and jupytext import).

`.ipynb` files are JSON: a valid nbformat 4 notebook is checked against nbformat's schema with
fastjsonschema, any other is read, upgraded or repaired with nbformat. `.py` and `.md` files are
text notebooks read with jupytext (percent and light scripts, MyST and jupytext markdown),
imported only when one is read.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import json
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nb2prod.errors import Diagnostic, NotebookError, one_line, warning
from nb2prod.notebook.structure import check_structure, describe

SUPPORTED_MAJOR = (3, 4)
_IMPORT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Cell:
    """One notebook cell; `index` counts every cell from 1, markdown included."""

    index: int
    kind: str
    source: str
    tags: tuple[str, ...] = ()
    result_text: str | None = None
    first_line: int | None = None  # in a text notebook, the file's line of the source's line 1


@dataclass(frozen=True)
class Notebook:
    """What nb2prod needs of a notebook: its cells, its language and its kernel's name, and
    the warnings reading it gave (schema problems repaired in memory)."""

    cells: tuple[Cell, ...]
    language: str = "python"
    kernel: str | None = None
    warnings: tuple[Diagnostic, ...] = ()

    def placed(self, diagnostic: Diagnostic) -> Diagnostic:
        """`diagnostic` with its line in the file too, when its cell is a text notebook's."""
        cell = diagnostic.cell
        if cell is None or not 1 <= cell <= len(self.cells):
            return diagnostic
        start = self.cells[cell - 1].first_line
        return diagnostic if start is None else diagnostic.at_file_line(start)


def read_notebook(path: Path) -> Notebook:
    """Read `path` as a notebook, raising NotebookError with a fix for anything wrong."""
    return parse_file(read_bytes(path), path.suffix)


# Whether a notebook's JSON follows its nbformat 4 schema as saved (`valid_as_saved`): the
# build may ask another process, which compiles the schema while this one imports libcst.
Validity = Callable[[dict[str, Any]], bool]


def parse_file(data: bytes | str, suffix: str, valid: Validity | None = None) -> Notebook:
    """A notebook file's content by its suffix: a text notebook for `.py` and `.md`, else JSON
    (checked against its schema with `valid`, by default `valid_as_saved`)."""
    if is_text_suffix(suffix):
        return parse_text_notebook(data, suffix)
    return parse_notebook(data, valid)


def read_bytes(path: Path) -> bytes:
    """A notebook file's bytes; never opens a folder, pipe or device."""
    if path.is_dir():
        raise NotebookError("is a folder, not a notebook file; name an .ipynb file")
    if path.exists() and not path.is_file():
        # a FIFO would block the build and /dev/zero would fill memory: never opened
        raise NotebookError("is not a regular file (a pipe or a device); name an .ipynb file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotebookError("no such file; check the path") from None
    except OSError as exc:
        raise NotebookError(f"cannot be read ({exc.strerror}); check its permissions") from None


def parse_notebook(data: bytes | str, valid: Validity | None = None) -> Notebook:
    """Parse notebook JSON text, upgrading nbformat 3, and validate it against its schema."""
    data = _decoded(data, "save the notebook from Jupyter again")
    raw = _json(data)
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise NotebookError("is JSON but not a notebook (no 'nbformat' key)")
    node, repaired = _validated(raw, valid or valid_as_saved)
    cells = tuple(_cell(position, cell) for position, cell in enumerate(node["cells"], start=1))
    language = _python(_language(node.get("metadata", {})))
    kernel = _kernel(node.get("metadata", {}))
    return Notebook(cells=cells, language=language, kernel=kernel, warnings=repaired)


_PYTHON_3 = frozenset({"python", "python3", "python 3"})
_PYTHON_2 = frozenset({"python2", "python 2"})


def _python(language: str) -> str:
    """`python` for a Python 3 notebook; NotebookError for Python 2 and other languages."""
    if language in _PYTHON_2:
        raise NotebookError(
            f"is a Python 2 notebook (its kernel's language is {language}); nb2prod lifts "
            "Python 3 code: port the notebook to Python 3 and save it from a Python 3 kernel"
        )
    if language not in _PYTHON_3:
        raise NotebookError(f"uses a {language} kernel; nb2prod lifts Python notebooks only")
    return "python"


def _decoded(data: bytes | str, fix: str) -> str:
    """The text of a notebook file, refusing what is not UTF-8 or holds nothing."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotebookError(f"is not UTF-8 text (byte {exc.start}); {fix}") from None
    if not data.strip():
        raise NotebookError(f"is empty; {fix}")
    return data


def _json(text: str) -> object:
    """The JSON value of `text`, or NotebookError saying where it breaks."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"is not valid notebook JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "the file may be truncated or merged by hand"
        ) from None
    except (ValueError, RecursionError) as exc:  # a number too long, arrays nested too deep
        what = "nested too deeply" if isinstance(exc, RecursionError) else "with a number too long"
        raise NotebookError(f"is JSON {what} to be a notebook; the file is damaged") from None


def _validated(
    raw: dict[str, Any], valid: Validity
) -> tuple[dict[str, Any], tuple[Diagnostic, ...]]:
    """Upgrade to nbformat 4 and validate: the notebook, and one warning if it had to be repaired.

    What Jupyter opens is read: schema problems in what nb2prod does not use (markdown cells
    carrying outputs, missing or repeated cell ids, unknown or mistyped metadata) are left
    aside with one warning. Only what cannot be read as cells is refused, and the fields
    nb2prod reads are checked first (`check_structure`), so they are always of the right type.
    """
    major = raw.get("nbformat")
    if not isinstance(major, int) or isinstance(major, bool):
        raise NotebookError("has a non-numeric 'nbformat' version; the file is damaged")
    if major not in SUPPORTED_MAJOR:
        raise NotebookError(
            f"uses nbformat {major}; nb2prod reads nbformat 3 and 4 (open and save it in Jupyter)"
        )
    check_structure(raw)
    if valid(raw):
        return raw, ()
    with _IMPORT_LOCK:  # imported lazily; threads reading at once must not see it half-made
        import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            node = nbformat.from_dict(raw)  # type: ignore[no-untyped-call]
            if major == 3:
                node = nbformat.convert(_lines_joined(node), 4)  # type: ignore[no-untyped-call]
            problems = _schema_problems(node)
        except nbformat.ValidationError as exc:  # an nbformat 3 notebook that cannot upgrade
            message = str(getattr(exc, "message", exc)).splitlines()[0][:200]
            raise NotebookError(
                f"is not a valid notebook: {message}; save it from Jupyter again"
            ) from None
        except (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError) as exc:
            raise NotebookError(
                f"does not follow the notebook format ({type(exc).__name__}: {exc}); "
                "save it from Jupyter again"
            ) from None
    result: dict[str, Any] = node
    return result, _repair_warning(problems)


def valid_as_saved(raw: dict[str, Any]) -> bool:
    """Whether an nbformat 4 notebook follows its minor version's schema, with every cell id
    (where that version has them) given once: then nbformat has nothing to upgrade or repair.

    Checked with fastjsonschema, nbformat's own fast validator, against the schema file nbformat
    ships, without importing nbformat itself: its import loads jsonschema, which took about
    0.09 s of a small notebook's 0.75 s build. Anything else (nbformat 3, a minor version
    without a schema file, a schema problem) goes the whole way through nbformat.
    """
    minor = raw.get("nbformat_minor")
    if raw.get("nbformat") != 4 or not isinstance(minor, int) or isinstance(minor, bool):
        return False
    validator = _schema_validator(minor)
    if validator is None or (minor >= 5 and not _ids_unique(raw)):
        return False
    try:
        validator(raw)
    except Exception:  # fastjsonschema's JsonSchemaException: let nbformat say what is wrong
        return False
    return True


def _ids_unique(raw: dict[str, Any]) -> bool:
    ids = [cell.get("id") for cell in raw["cells"]]
    return all(isinstance(given, str) for given in ids) and len(set(ids)) == len(ids)


@functools.cache
def _schema_validator(minor: int) -> Callable[[Any], Any] | None:
    """fastjsonschema's validator for nbformat 4.`minor`'s schema, compiled once per process;
    None when nbformat ships no schema file for that version."""
    spec = importlib.util.find_spec("nbformat")  # finds the package without running it
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        schema = Path(folder, "v4", f"nbformat.v4.{minor}.schema.json")
        if schema.is_file():
            with _IMPORT_LOCK:
                import fastjsonschema

            compiled: Callable[[Any], Any] = fastjsonschema.compile(
                json.loads(schema.read_text(encoding="utf-8"))
            )
            return compiled
    return None


def _lines_joined(node: Any) -> Any:
    """An nbformat 3 notebook with the text of its markdown, heading and raw cells joined, as
    `nbformat.read` does before upgrading (a heading kept as a list of lines cannot upgrade)."""
    for sheet in node.get("worksheets", []):
        for cell in sheet.get("cells", []):
            if cell.get("cell_type") != "code" and isinstance(cell.get("source"), list):
                cell["source"] = "".join(cell["source"])
    return node


def _schema_problems(node: Any) -> list[str]:
    """What in `node` breaks the nbformat schema, each as `where: what`; cell ids that are
    missing or repeated are given new ones first, as Jupyter does.

    Valid notebooks take nbformat's fast validator (fastjsonschema) only; the detailed
    errors of jsonschema are asked for when it finds a problem.
    """
    from nbformat.validator import ValidationError, iter_validate, validate

    problems = _ids_repaired(node)
    try:
        validate(node)
    except ValidationError:
        problems += [_problem(error) for error in iter_validate(node)]  # type: ignore[no-untyped-call]
    return problems


def _ids_repaired(node: Any) -> list[str]:
    """Give each cell without an id, or repeating an earlier one's, a new one where nbformat
    wants ids (`cell-N` after its place: nb2prod reads no id, and `node` is our own copy made
    by `from_dict`); what was wrong, cell by cell."""
    if (node.get("nbformat"), node.get("nbformat_minor", 0)) < (4, 5):
        return []
    taken = {cell["id"] for cell in node["cells"] if isinstance(cell.get("id"), str)}
    seen: set[str] = set()
    problems = []
    for index, cell in enumerate(node["cells"], start=1):
        given = cell.get("id")
        if isinstance(given, str) and given not in seen:
            seen.add(given)
            continue
        if "id" not in cell:
            problems.append(f"cell {index}: has no id")
        elif isinstance(given, str):
            problems.append(f"cell {index}: repeats the id of an earlier cell")
        else:
            problems.append(f"cell {index}: its id is {describe(given)}, not text")
        new = f"cell-{index}"
        while new in taken:
            new += "-"
        cell["id"] = new
        taken.add(new)
        seen.add(new)
    return problems


def _problem(error: Exception) -> str:
    """One schema error as `where: what`."""
    where = _where(error) or "the notebook"
    message = str(getattr(error, "message", error)).splitlines()[0]
    return f"{where}: {one_line(message, 100)}"


def _repair_warning(problems: list[str]) -> tuple[Diagnostic, ...]:
    """One warning for every problem left aside, naming the first."""
    if not problems:
        return ()
    more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
    return (
        warning(
            f"does not follow the notebook format ({problems[0]}{more}); read it as Jupyter "
            "opens it, leaving aside what nb2prod does not use; save it from Jupyter again "
            "to repair the file"
        ),
    )


def _where(exc: Exception) -> str:
    """Where a schema error is, with the cell number when its path names one."""
    path = list(getattr(exc, "absolute_path", []) or getattr(exc, "path", []))
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        where = f"cell {path[1] + 1}"
        rest = ".".join(str(part) for part in path[2:])
        return f"{where} field '{rest}'" if rest else where
    return "field '" + ".".join(str(part) for part in path) + "'" if path else ""


def _cell(index: int, cell: dict[str, Any]) -> Cell:
    """Turn a validated nbformat 4 cell into a Cell."""
    metadata = cell.get("metadata", {})
    tags = metadata.get("tags", [])
    result = _result_text(cell.get("outputs", [])) if cell["cell_type"] == "code" else None
    return Cell(
        index=index,
        kind=cell["cell_type"],
        source=_text(cell.get("source", "")),
        tags=tuple(tag for tag in tags if isinstance(tag, str)),
        result_text=result,
    )


def _result_text(outputs: list[dict[str, Any]]) -> str | None:
    """The recorded plain-text result of a code cell (its execute_result), if any."""
    for output in outputs:
        if output.get("output_type") == "execute_result":
            plain = output.get("data", {}).get("text/plain")
            if plain is not None:
                return _text(plain)
    return None


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _kernel(metadata: dict[str, Any]) -> str | None:
    """The kernelspec name the notebook was saved with, if any."""
    spec = metadata.get("kernelspec")
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else None


def code_notebook(sources: list[str]) -> Any:
    """A notebook node holding `sources` as code cells, for running them in a kernel."""
    from nbformat.v4 import new_code_cell, new_notebook

    return new_notebook(cells=[new_code_cell(source) for source in sources])  # type: ignore[no-untyped-call]


def _language(metadata: dict[str, Any]) -> str:
    """The notebook's language from its kernelspec or language_info; Python when unsaid."""
    for key in ("kernelspec", "language_info"):
        section = metadata.get(key)
        if isinstance(section, dict):
            name = section.get("language" if key == "kernelspec" else "name")
            if isinstance(name, str) and name:
                return name.lower()
    return "python"


# --- text notebooks (jupytext) ---------------------------------------------------------------

TEXT_SUFFIXES = (".py", ".md")
_TEXT_FIX = "fix the file, or open it in Jupyter with jupytext and save it again"
# A jupytext header: `# ---` then `# jupyter:` in a script, YAML front matter holding `jupyter:`,
# `jupytext:` or `kernelspec:` in markdown (jupytext's own markdown, MyST).
_SCRIPT_HEADER = re.compile(r"\A(?:#!.*\n)?(?:#.*coding[:=].*\n)?# ---[ \t]*\n# jupyter:", re.M)
_MARKDOWN_HEADER = re.compile(
    r"\A---[ \t]*\n(?:(?!---).*\n)*?(?:jupyter|jupytext|kernelspec):", re.M
)
# A percent cell marker, as VS Code, PyCharm, Spyder and jupytext write it.
_PERCENT_MARKER = re.compile(r"^[ \t]*#[ \t]?%%(?:[ \t]|$)", re.M)
_PAIRED = re.compile(r"^(?:#[ \t]*)?[ \t]*formats:[ \t]*['\"]?(?P<formats>[^'\"\n]+)", re.M)


def is_text_suffix(suffix: str) -> bool:
    """Whether files ending in `suffix` are read as text notebooks."""
    return suffix.lower() in TEXT_SUFFIXES


def is_notebook_text(text: str, suffix: str) -> bool:
    """Whether a `.py` or `.md` file's text says it is a notebook: a jupytext header, or (in a
    script) percent cell markers. A plain module or a README is not one."""
    if suffix.lower() == ".md":
        return _MARKDOWN_HEADER.match(text) is not None
    return _SCRIPT_HEADER.match(text) is not None or _PERCENT_MARKER.search(text) is not None


def is_notebook_file(path: Path) -> bool:
    """Whether `path` is a notebook nb2prod reads: an `.ipynb`, or a text notebook that says so."""
    if path.suffix == ".ipynb":
        return True
    if not is_text_suffix(path.suffix) or not path.is_file():
        return False
    try:
        return is_notebook_text(path.read_text(encoding="utf-8", errors="replace"), path.suffix)
    except OSError:
        return False


def paired_formats(path: Path) -> tuple[str, ...]:
    """The formats jupytext's pairing metadata names for `path` (`ipynb`, `py:percent`, ...):
    `metadata.jupytext.formats` of an `.ipynb`, the header's `formats:` of a text notebook."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ()
    if path.suffix == ".ipynb":
        try:
            raw = json.loads(text)
            formats = raw["metadata"]["jupytext"]["formats"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return ()
    else:
        header = _header_text(text, path.suffix)
        found = _PAIRED.search(header)
        formats = found["formats"] if found else ""
    if not isinstance(formats, str):
        return ()
    return tuple(part.strip() for part in formats.split(",") if part.strip())


def _header_text(text: str, suffix: str) -> str:
    """The jupytext header of a text notebook, empty when it has none."""
    lines = text.split("\n")
    fence = "---" if suffix.lower() == ".md" else "# ---"
    starts = [n for n, line in enumerate(lines[:3]) if line.rstrip() == fence]
    if not starts:
        return ""
    for end in range(starts[0] + 1, len(lines)):
        if lines[end].rstrip() == fence:
            return "\n".join(lines[starts[0] + 1 : end])
    return ""


def parse_text_notebook(data: bytes | str, suffix: str) -> Notebook:
    """Read a text notebook with jupytext; each code cell knows the line where it starts."""
    text = _decoded(data, _TEXT_FIX)
    if suffix.lower() == ".py" and not is_notebook_text(text, suffix):
        raise NotebookError(
            "is a Python module, not a notebook: it has neither a jupytext header nor `# %%` "
            "cell markers; start each cell with `# %%`, or pair a notebook with it through "
            "jupytext (`jupytext --set-formats ipynb,py:percent`)"
        )
    node = _jupytext_node(text, suffix)
    check_structure(node)
    metadata = node.get("metadata", {})
    language = _language(metadata)
    main = metadata.get("jupytext", {}).get("main_language")
    if "kernelspec" not in metadata and isinstance(main, str) and main:
        language = main.lower()
    if language != "python":
        raise NotebookError(f"uses a {language} kernel; nb2prod lifts Python notebooks only")
    cells = [_cell(position, cell) for position, cell in enumerate(node["cells"], start=1)]
    starts = first_lines(text, cells)
    placed = tuple(
        replace(cell, first_line=start) for cell, start in zip(cells, starts, strict=True)
    )
    return Notebook(cells=placed, language=language, kernel=_kernel(metadata))


def _jupytext_node(text: str, suffix: str) -> dict[str, Any]:
    """The notebook jupytext reads from `text`, as a plain nbformat 4 dictionary."""
    with _IMPORT_LOCK:  # imported lazily: only text notebooks need it, and it is slow to load
        import jupytext

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            node = jupytext.reads(text, fmt=suffix.lower().lstrip("."))
        except Exception as exc:  # jupytext raises many kinds on malformed headers and markers
            detail = " ".join(str(exc).split())[:160]
            raise NotebookError(
                f"cannot be read as a text notebook ({type(exc).__name__}: {detail}); {_TEXT_FIX}"
            ) from None
    result: dict[str, Any] = json.loads(json.dumps(node))
    return result


def first_lines(text: str, cells: list[Cell]) -> list[int | None]:
    """For each cell, the line of `text` (from 1) holding its source's first line, found in
    order; None for markdown and raw cells, empty cells and any that cannot be placed.

    jupytext keeps a code cell's lines as they are, except IPython magics, which scripts hold
    commented out (`# %time x = 1`): a line matches as it is, or else uncommented once.
    """
    lines = text.split("\n")
    exact = _positions(lines)
    uncommented = _positions(lines, _uncomment)
    found: list[int | None] = []
    cursor = 0
    for cell in cells:
        source = cell.source.split("\n")
        start = None
        if cell.kind == "code" and cell.source.strip():
            start = _block_at(lines, exact, source, cursor, lenient=False)
            if start is None:
                start = _block_at(lines, uncommented, source, cursor, lenient=True)
        found.append(None if start is None else start + 1)
        if start is not None:
            cursor = start + len(source)
    return found


def _positions(
    lines: list[str], variant: Callable[[str], str] | None = None
) -> dict[str, list[int]]:
    """Each line's numbers by its text, and by its `variant` too (in increasing order)."""
    where: dict[str, list[int]] = {}
    for number, line in enumerate(lines):
        for key in {line, variant(line)} if variant else {line}:
            where.setdefault(key, []).append(number)
    return where


def _uncomment(line: str) -> str:
    """A line with one leading `#` (and the space after it) taken off, as jupytext unescapes."""
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    if body.startswith("# "):
        return indent + body[2:]
    return indent + body[1:] if body.startswith("#") else line


def _block_at(
    lines: list[str], index: dict[str, list[int]], source: list[str], cursor: int, *, lenient: bool
) -> int | None:
    """The first line from `cursor` where `source` stands, line for line."""
    candidates = index.get(source[0], [])
    for start in candidates[bisect.bisect_left(candidates, cursor) :]:
        if all(_same(lines, start + n, want, lenient) for n, want in enumerate(source)):
            return start
    return None


def _same(lines: list[str], number: int, want: str, lenient: bool) -> bool:
    if number >= len(lines):
        return False
    line = lines[number]
    return line == want or (lenient and _uncomment(line) == want)
