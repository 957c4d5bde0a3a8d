"""Check the shape of a notebook's JSON before nbformat sees it, for messages that say where.

nbformat's schema errors name a JSON path and quote whole cells; a user needs the cell number,
the field, what it holds and what it should hold. These checks cover the fields nb2prod reads;
nbformat's validation still runs afterwards for the rest of the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nb2prod.errors import NotebookError

_FIX = "save the notebook from Jupyter again"
_CELL_TYPES = frozenset({"code", "markdown", "raw"})
_V3_CELL_TYPES = frozenset({"code", "markdown", "raw", "heading"})

Check = Callable[[object], bool]


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_lines(value: object) -> bool:
    """Text, or a list of text lines: how notebooks store multi-line strings."""
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(line, str) for line in value)
    )


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_list(value: object) -> bool:
    return isinstance(value, list)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_tags(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(tag, str) for tag in value)


_EXPECTED: dict[Check, str] = {
    _is_text: "text",
    _is_lines: "text or a list of text lines",
    _is_object: "an object",
    _is_list: "a list",
    _is_count: "a whole number",
    _is_tags: "a list of text tags",
}


def describe(value: object) -> str:
    """What a JSON value is, in a user's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    names = {int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _mismatch(value: object) -> str:
    """What a value of the wrong type is, naming the first stray item of a list."""
    items = value if isinstance(value, list) else []
    strays = [item for item in items if not isinstance(item, str)]
    return f"a list holding {describe(strays[0])}" if strays else describe(value)


def check_structure(raw: dict[str, Any]) -> None:
    """Raise NotebookError naming the first field nb2prod reads that has the wrong type."""
    _field(raw, "nbformat_minor", _is_count, required=False)
    _field(raw, "metadata", _is_object, required=raw.get("nbformat") == 4)
    metadata = raw.get("metadata", {})
    for section, key in (("kernelspec", "language"), ("language_info", "name")):
        if _field(metadata, section, _is_object, required=False, where="metadata"):
            _field(metadata[section], key, _is_text, required=False, where=f"metadata.{section}")
    if raw.get("nbformat") == 3:
        _check_worksheets(raw)
        return
    _field(raw, "cells", _is_list, required=True)
    for index, cell in enumerate(raw["cells"], start=1):
        _check_cell(cell, index, _CELL_TYPES, "source")


def _check_worksheets(raw: dict[str, Any]) -> None:
    if not _field(raw, "worksheets", _is_list, required=False):
        return
    index = 0
    for number, sheet in enumerate(raw["worksheets"], start=1):
        where = f"worksheet {number}"
        if not isinstance(sheet, dict):
            raise NotebookError(f"{where} is {describe(sheet)}, expected an object; {_FIX}")
        if not _field(sheet, "cells", _is_list, required=False, where=where):
            continue
        for cell in sheet["cells"]:
            index += 1
            source = "input" if isinstance(cell, dict) and cell.get("cell_type") == "code" else ""
            _check_cell(cell, index, _V3_CELL_TYPES, source or "source")


def _check_cell(cell: object, index: int, kinds: frozenset[str], source: str) -> None:
    if not isinstance(cell, dict):
        raise NotebookError(f"is {describe(cell)}, expected a cell object; {_FIX}", cell=index)
    kind = cell.get("cell_type")
    if not isinstance(kind, str) or kind not in kinds:
        shown = f"{kind!r}" if isinstance(kind, str) else describe(kind)
        listed = ", ".join(sorted(kinds))
        missing = "has no 'cell_type'" if "cell_type" not in cell else f"has cell_type {shown}"
        raise NotebookError(f"{missing}, expected one of {listed}; {_FIX}", cell=index)
    _field(cell, source, _is_lines, required=kind != "heading", cell=index)
    if _field(cell, "metadata", _is_object, required=False, cell=index):
        _field(cell["metadata"], "tags", _is_tags, required=False, where="metadata", cell=index)
    if kind == "code" and _field(cell, "outputs", _is_list, required=False, cell=index):
        for number, output in enumerate(cell["outputs"], start=1):
            _check_output(output, index, f"outputs.{number}")


def _check_output(output: object, index: int, where: str) -> None:
    if not isinstance(output, dict):
        raise NotebookError(
            f"field '{where}' is {describe(output)}, expected an object; {_FIX}", cell=index
        )
    _field(output, "output_type", _is_text, required=True, where=where, cell=index)
    if _field(output, "data", _is_object, required=False, where=where, cell=index):
        data = output["data"]
        _field(data, "text/plain", _is_lines, required=False, where=f"{where}.data", cell=index)


def _field(
    node: dict[str, Any],
    key: str,
    check: Check,
    *,
    required: bool,
    where: str = "",
    cell: int | None = None,
) -> bool:
    """Whether `node[key]` is present; raise if it is required and missing, or of a wrong type."""
    name = f"{where}.{key}" if where else key
    if key not in node:
        if required:
            raise NotebookError(f"has no field '{name}'; {_FIX}", cell=cell)
        return False
    value = node[key]
    if not check(value):
        raise NotebookError(
            f"field '{name}' is {_mismatch(value)}, expected {_EXPECTED[check]}; {_FIX}", cell=cell
        )
    return True
