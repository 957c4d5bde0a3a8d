"""`<package>/__init__.py`: exports run(), the step functions and the notebook's own module-level
functions and classes (`from churn_deploy import features`)."""

from __future__ import annotations

from nb2prod.emit import Target
from nb2prod.emit.text import docstring, join_sections
from nb2prod.lift import Plan

# The package's modules: a notebook definition of one of these names stays in pipeline.py only,
# so that `package.pipeline` remains the module.
MODULES = frozenset({"pipeline", "runtime", "api", "airflow_dag"})


def exported_definitions(plan: Plan) -> list[str]:
    """The names of the module-level defs and classes the package exports, in notebook order."""
    names = (piece.name for _, piece in plan.definitions if piece.name is not None)
    return [name for name in dict.fromkeys(names) if name not in MODULES]


def render(plan: Plan, target: Target) -> str:
    """The source of the package's `__init__.py`, before formatting."""
    names = sorted({"run", *(step.name for step in plan.steps), *exported_definitions(plan)})
    module_doc = docstring(f"The pipeline of {target.source}, as a package.")
    imports = f"from .pipeline import {', '.join(names)}\n"
    exports = f"__all__ = {names!r}\n"
    return join_sections(module_doc, imports, exports)
