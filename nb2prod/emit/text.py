"""Safe ways for notebook text to enter generated code: string literals and comments."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING

from nb2prod.errors import one_line

if TYPE_CHECKING:
    import libcst as cst


def literal(text: str) -> str:
    """A Python string literal for any text (quotes, backslashes, line breaks escaped)."""
    return repr(text)


def docstring(*paragraphs: str, indent: str = "    ") -> str:
    """A triple-quoted docstring; each paragraph is folded onto one line and escaped."""
    escaped = [one_line(p, 400).replace("\\", "\\\\").replace('"', '\\"') for p in paragraphs]
    if len(escaped) == 1:
        return f'"""{escaped[0]}"""'
    return '"""' + f"\n\n{indent}".join(escaped) + f'\n{indent}"""'


def toml_string(text: str) -> str:
    """A TOML basic string for any text; JSON's escapes are valid TOML."""
    return json.dumps(text, ensure_ascii=False)


def code(node: cst.CSTNode) -> str:
    """The source of a libcst node."""
    return _empty_module().code_for_node(node)


@functools.cache
def _empty_module() -> cst.Module:
    # imported here: the writer and the formatter use this module's text helpers without libcst
    import libcst

    return libcst.Module([])


def join_sections(*sections: str) -> str:
    """Sections of a module separated by two blank lines, as black separates top-level
    definitions; empty ones left out."""
    return "\n\n\n".join(s.strip("\n") for s in sections if s.strip()) + "\n"
