"""Python literals read from notebook text without running it."""

from __future__ import annotations

import ast

# What ast.literal_eval raises for text that is not a literal it can evaluate (a name, a
# call, an expression nested too deep, a number too large to build).
NOT_A_LITERAL = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def literal_value(text: str) -> tuple[bool, object]:
    """(True, value) when `text` is a Python literal, else (False, None)."""
    try:
        return True, ast.literal_eval(text.strip())
    except NOT_A_LITERAL:
        return False, None
