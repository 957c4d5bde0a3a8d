"""Write small notebooks with nbformat, for fixtures and tests.

A cell is given as text, with an optional prefix naming its kind and tags:
`"md: ## Heading"`, `"deploy: x = 1"`, `"parameters: n = 3"`, `"test: assert x"`,
`"deploy,step:load: rows = []"`, Kale's `"prev:load,step:fit: ..."`; plain text is an unmarked
code cell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

_TAG = r"[a-z][a-z-]*(?::[A-Za-z0-9_ -]*)?"
_PREFIX = re.compile(rf"^(?P<tags>md|raw|{_TAG}(?:,{_TAG})*): ", re.S)


def make_notebook(cells: Sequence[str | tuple[str, str]], kernel: str = "python3") -> Any:
    """A notebook node; a (text, result) pair records `result` as the cell's text/plain output."""
    node = new_notebook()
    node.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    for index, spec in enumerate(cells):
        text, result = (spec, None) if isinstance(spec, str) else spec
        node.cells.append(_cell(text, result, index))
    return node


def _cell(text: str, result: str | None, index: int) -> Any:
    match = _PREFIX.match(text)
    tags: list[str] = []
    if match:
        text = text[match.end() :]
        if match["tags"] == "md":
            return new_markdown_cell(text, id=f"cell-{index}")
        tags = match["tags"].split(",")
    cell = new_code_cell(text, id=f"cell-{index}", metadata={"tags": tags} if tags else {})
    if result is not None:
        cell.execution_count = index + 1
        cell.outputs = [
            new_output("execute_result", {"text/plain": result}, execution_count=index + 1)
        ]
    return cell


def write_notebook(
    path: Path, cells: Sequence[str | tuple[str, str]], kernel: str = "python3"
) -> Path:
    """Write a notebook to `path` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(make_notebook(cells, kernel), str(path))
    return path
