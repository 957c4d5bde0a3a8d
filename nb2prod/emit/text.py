"""Safe ways for notebook text to enter generated code: string literals and comments."""

from __future__ import annotations

import json

import libcst as cst

_EMPTY = cst.Module([])


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


def one_line(text: str, limit: int = 120) -> str:
    """Text folded onto one printable line, fit for a comment or a docstring."""
    folded = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return folded if len(folded) <= limit else folded[: limit - 3] + "..."


def code(node: cst.CSTNode) -> str:
    """The source of a libcst node."""
    return _EMPTY.code_for_node(node)


def join_sections(*sections: str) -> str:
    """Sections of a module separated by two blank lines; empty ones left out."""
    return "\n\n\n".join(s.strip("\n") for s in sections if s.strip()) + "\n"
