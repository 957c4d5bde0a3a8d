"""Python literals read from notebook text without running it."""

from __future__ import annotations

import ast
import json

# What ast.literal_eval raises for text that is not a literal it can evaluate (a name, a
# call, an expression nested too deep, a number too large to build).
NOT_A_LITERAL = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def literal_value(text: str) -> tuple[bool, object]:
    """(True, value) when `text` is a Python literal, else (False, None)."""
    try:
        return True, ast.literal_eval(text.strip())
    except NOT_A_LITERAL:
        return False, None


def as_json(value: object) -> object | None:
    """A literal as the JSON value that stands for it (tuples and sets as arrays, sets sorted
    so that output is byte-identical), or None when JSON cannot hold it (bytes, NaN, a dict
    with keys that are not text)."""
    try:
        shown: object = json.loads(json.dumps(_plain(value), allow_nan=False))
    except (TypeError, ValueError):
        return None
    return shown


def _plain(value: object) -> object:
    if isinstance(value, set | frozenset):
        return [_plain(item) for item in sorted(value, key=repr)]
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("a JSON object's keys are text")
        return {key: _plain(item) for key, item in value.items()}
    return value
