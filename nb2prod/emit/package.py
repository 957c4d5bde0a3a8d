"""`<package>/__init__.py`: exports run() and the step functions, and train() and load() with
serve cells."""

from __future__ import annotations

from nb2prod.emit import Target
from nb2prod.emit.text import docstring, join_sections
from nb2prod.lift import Plan


def render(plan: Plan, target: Target) -> str:
    """The source of the package's `__init__.py`, before formatting."""
    serving = ("train", "load") if plan.serving is not None else ()
    names = sorted({"run", *serving, *(step.name for step in plan.steps)})
    module_doc = docstring(f"The pipeline of {target.source}, as a package.")
    imports = f"from .pipeline import {', '.join(names)}\n"
    exports = f"__all__ = {names!r}\n"
    return join_sections(module_doc, imports, exports)
