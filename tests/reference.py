"""The semantics nb2prod promises: the parameters cell, then overrides, then the deploy cells
in order, in one namespace; the result is the last deploy cell's trailing expression."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from nb2prod.cells import Role, select
from nb2prod.reader import read_notebook


def run_notebook(path: Path, overrides: dict[str, Any] | None = None) -> Any:
    """Execute a notebook's parameters and deploy cells in order, as Jupyter would."""
    selection = select(read_notebook(path))
    namespace: dict[str, Any] = {"__name__": "__main__", "display": print}
    for cell in selection.with_role(Role.PARAMETERS):
        exec(compile(cell.tree.code, f"<cell {cell.index}>", "exec"), namespace)
    namespace.update(overrides or {})
    deploy = selection.with_role(Role.DEPLOY)
    for cell in deploy[:-1]:
        exec(compile(cell.tree.code, f"<cell {cell.index}>", "exec"), namespace)
    last = deploy[-1]
    return run_last_cell(last.tree.code, namespace, shows_result=not last.suppressed)


def run_last_cell(code: str, namespace: dict[str, Any], *, shows_result: bool = True) -> Any:
    """Run a cell and return what Jupyter shows for it: its trailing expression's value."""
    tree = ast.parse(code)
    if not shows_result or not tree.body or not isinstance(tree.body[-1], ast.Expr):
        exec(compile(tree, "<last cell>", "exec"), namespace)
        return None
    body = ast.Module(body=tree.body[:-1], type_ignores=[])
    exec(compile(body, "<last cell>", "exec"), namespace)
    expression = ast.Expression(body=tree.body[-1].value)
    return eval(compile(expression, "<last cell>", "eval"), namespace)
