"""Read and validate a notebook file into plain values (the only nbformat import)."""

from __future__ import annotations

import json
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import NotebookError
from nb2prod.notebook.structure import check_structure

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


@dataclass(frozen=True)
class Notebook:
    """What nb2prod needs of a notebook: its cells, its language and its kernel's name."""

    cells: tuple[Cell, ...]
    language: str = "python"
    kernel: str | None = None


def read_notebook(path: Path) -> Notebook:
    """Read `path` as a notebook, raising NotebookError with a fix for anything wrong."""
    return parse_notebook(read_bytes(path))


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


def parse_notebook(data: bytes | str) -> Notebook:
    """Parse notebook JSON text, upgrading nbformat 3, and validate it against its schema."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotebookError(
                f"is not UTF-8 text (byte {exc.start}); save the notebook from Jupyter again"
            ) from None
    if not data.strip():
        raise NotebookError("is empty; save the notebook from Jupyter again")
    raw = _json(data)
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise NotebookError("is JSON but not a notebook (no 'nbformat' key)")
    node = _validated(raw)
    cells = tuple(_cell(position, cell) for position, cell in enumerate(node["cells"], start=1))
    language = _language(node.get("metadata", {}))
    if language != "python":
        raise NotebookError(f"uses a {language} kernel; nb2prod lifts Python notebooks only")
    return Notebook(cells=cells, language=language, kernel=_kernel(node.get("metadata", {})))


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


def _validated(raw: dict[str, Any]) -> dict[str, Any]:
    """Upgrade to nbformat 4 and validate, turning nbformat's exceptions into NotebookError."""
    with _IMPORT_LOCK:  # imported lazily; threads reading at once must not see it half-made
        import nbformat
        from nbformat.validator import normalize

    major = raw.get("nbformat")
    if not isinstance(major, int) or isinstance(major, bool):
        raise NotebookError("has a non-numeric 'nbformat' version; the file is damaged")
    if major not in SUPPORTED_MAJOR:
        raise NotebookError(
            f"uses nbformat {major}; nb2prod reads nbformat 3 and 4 (open and save it in Jupyter)"
        )
    check_structure(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            node = nbformat.from_dict(raw)  # type: ignore[no-untyped-call]
            if major == 3:
                node = nbformat.convert(node, 4)  # type: ignore[no-untyped-call]
            _, node = normalize(node)
            nbformat.validate(node)
        except nbformat.ValidationError as exc:
            raise NotebookError(_schema_message(exc)) from None
        except (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError) as exc:
            raise NotebookError(
                f"does not follow the notebook format ({type(exc).__name__}: {exc}); "
                "save it from Jupyter again"
            ) from None
    result: dict[str, Any] = node
    return result


def _schema_message(exc: Exception) -> str:
    """Say where the schema was broken, with the cell number when the path names one."""
    path = list(getattr(exc, "absolute_path", []) or getattr(exc, "path", []))
    where = ""
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        where = f"cell {path[1] + 1}"
        rest = ".".join(str(part) for part in path[2:])
        if rest:
            where += f" field '{rest}'"
    elif path:
        where = "field '" + ".".join(str(part) for part in path) + "'"
    message = str(getattr(exc, "message", exc)).splitlines()[0][:200]
    place = f" at {where}" if where else ""
    return f"is not a valid notebook{place}: {message}; save it from Jupyter again"


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
