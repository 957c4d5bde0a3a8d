"""The golden test: run() must show what the notebook recorded for its result cell."""

from __future__ import annotations

import re

from nb2prod.emit.text import literal
from nb2prod.lift import Plan

# A default repr names a memory address, which no later run reproduces.
MEMORY_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")


def render(plan: Plan) -> str:
    """The golden test section of the test module, a comment when there can be none, or ''."""
    if plan.result_cell is None:
        return ""
    cell = plan.result_cell
    if plan.result_text is None:
        return (
            f"# No golden test: cell {cell} has no recorded plain-text result (the notebook was\n"
            "# saved without running it, or it showed only rich output such as images or HTML,\n"
            "# which is not compared).\n"
        )
    if MEMORY_ADDRESS.search(plan.result_text):
        return (
            f"# No golden test: cell {cell}'s recorded result names a memory address, which no\n"
            "# other run reproduces.\n"
        )
    return _golden_test(cell, plan.result_text, plan.run_fixture)


def _golden_test(cell: int, text: str, fixture: str) -> str:
    return f'''# What Jupyter showed for cell {cell} when the notebook last ran: its text/plain
# output (rich outputs such as images and HTML are left out of the comparison).
RECORDED_RESULT = {literal(text)}


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _shown(value: Any) -> set[str]:
    """How Jupyter may show `value`: IPython's pretty repr (it wraps long lines) and repr."""
    forms = {{_collapsed(repr(value))}}
    try:
        from IPython.lib.pretty import pretty
    except ImportError:
        return forms
    return forms | {{_collapsed(pretty(value))}}


def test_run_reproduces_recorded_result({fixture}: PipelineRun) -> None:
    """run() with the notebook's parameters shows what cell {cell} showed in the notebook."""
    recorded = _collapsed(RECORDED_RESULT)
    shown = _shown({fixture}.result)
    assert recorded in shown, f"the notebook showed {{recorded}}; run() shows {{shown}}"
'''
