"""The semantics nb2prod promises: the parameters cell, then overrides, then the deploy cells
in order, in one namespace; the result is the last deploy cell's trailing expression."""

from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
from pathlib import Path
from typing import Any

from nb2prod.analysis.selection import select
from nb2prod.notebook.cells import PIPELINE_ROLES, Role
from nb2prod.notebook.reader import Notebook, read_notebook


def run_notebook(path: Path, overrides: dict[str, Any] | None = None) -> Any:
    """Execute a notebook's parameters and deploy cells in order, as Jupyter would."""
    return run_cells(read_notebook(path), overrides)


def run_cells(notebook: Notebook, overrides: dict[str, Any] | None = None) -> Any:
    """Execute a notebook's parameters and deploy cells in order, in one namespace."""
    selection = select(notebook)
    # as in IPython: `__builtins__` is the builtins module (not its dict, as in imported modules)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins, "display": print}
    loop = asyncio.new_event_loop()  # one loop for the whole notebook, as in a kernel
    try:
        for cell in selection.with_role(Role.PARAMETERS):
            _run(ast.parse(cell.tree.code), "exec", namespace, loop)
        namespace.update(overrides or {})
        deploy = selection.with_role(*PIPELINE_ROLES)
        for cell in deploy[:-1]:
            _run(ast.parse(cell.tree.code), "exec", namespace, loop)
        last = deploy[-1]
        return run_last_cell(last.tree.code, namespace, loop, shows_result=not last.suppressed)
    finally:
        loop.close()


def run_last_cell(
    code: str,
    namespace: dict[str, Any],
    loop: asyncio.AbstractEventLoop,
    *,
    shows_result: bool = True,
) -> Any:
    """Run a cell and return what Jupyter shows for it: its trailing expression's value."""
    tree = ast.parse(code)
    if not shows_result or not tree.body or not isinstance(tree.body[-1], ast.Expr):
        _run(tree, "exec", namespace, loop)
        return None
    _run(ast.Module(body=tree.body[:-1], type_ignores=[]), "exec", namespace, loop)
    return _run(ast.Expression(body=tree.body[-1].value), "eval", namespace, loop)


def _run(
    tree: ast.AST, mode: str, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop
) -> Any:
    """exec or eval a cell's code; top-level await runs on the notebook's event loop."""
    code = compile(tree, "<cell>", mode, flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    value = eval(code, namespace)
    return loop.run_until_complete(value) if inspect.iscoroutine(value) else value


def run_namespace(path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The namespace after a notebook's parameters and deploy (and serve) cells ran in order:
    what the notebook's own functions see when they are called afterwards."""
    import os

    selection = select(read_notebook(path))
    namespace: dict[str, Any] = {"__name__": "__main__", "display": print}
    loop = asyncio.new_event_loop()
    before = Path.cwd()
    os.chdir(path.parent)  # relative data paths, as in Jupyter
    try:
        for cell in selection.with_role(Role.PARAMETERS):
            _run(ast.parse(cell.tree.code), "exec", namespace, loop)
        namespace.update(overrides or {})
        for cell in selection.with_role(*PIPELINE_ROLES):
            _run(ast.parse(cell.tree.code), "exec", namespace, loop)
    finally:
        os.chdir(before)
        loop.close()
    return namespace
