"""Format generated Python with black and check that it parses (the only black import)."""

from __future__ import annotations

import ast
import threading
from types import ModuleType

from nb2prod.errors import NotebookError

# black imports lazily (it is slow to load); threads building at once must not see it half-made.
_IMPORT_LOCK = threading.Lock()


def _black() -> ModuleType:
    with _IMPORT_LOCK:
        import black
    return black


def format_python(source: str, *, check_stable: bool = False) -> str:
    """black-format generated code; raise NotebookError if nb2prod generated invalid code."""
    black = _black()

    mode = black.Mode(line_length=88)
    try:
        formatted: str = black.format_str(source, mode=mode)
        ast.parse(formatted)
        if check_stable and black.format_str(formatted, mode=mode) != formatted:
            raise ValueError("formatting it twice changed it")
    except (black.parsing.InvalidInput, SyntaxError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookError(
            f"nb2prod generated code it cannot format ({first}); this is a bug in nb2prod, "
            "please report it with the notebook"
        ) from None
    return formatted


def format_files(files: dict[str, str], *, check_stable: bool = False) -> dict[str, str]:
    """Every `.py` file formatted; other files as they are."""
    return {
        path: format_python(text, check_stable=check_stable) if path.endswith(".py") else text
        for path, text in files.items()
    }
