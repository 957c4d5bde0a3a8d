"""Identifiers made from notebook text: package names, step names, collision-free names."""

from __future__ import annotations

import builtins
import keyword
import re
import sys
import unicodedata

BUILTINS = frozenset(dir(builtins))
_NON_ALNUM = re.compile(r"[^0-9a-zA-Z]+")
_LEADING_NUMBERING = re.compile(r"^[\d\s._):-]+")


def ascii_fold(text: str) -> str:
    """Non-ASCII letters folded to their ASCII base (`Données` -> `Donnees`); others dropped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def package_name(stem: str) -> str:
    """The SPEC's package name for a notebook stem.

    Lower-cased, every run of non-alphanumerics turned into `_` (trimmed at the ends), and
    prefixed with `nb_` when it starts with a digit, is a keyword, or shadows a standard
    library module (a package called `json` would break `import json` inside it).
    """
    name = _NON_ALNUM.sub("_", ascii_fold(stem)).strip("_").lower() or "notebook"
    if name[0].isdigit() or keyword.iskeyword(name) or name in sys.stdlib_module_names:
        name = "nb_" + name
    return name


def snake_case(text: str) -> str | None:
    """A heading as a snake_case identifier (`1. Load the Data!` -> `load_the_data`), or None."""
    text = _LEADING_NUMBERING.sub("", ascii_fold(text))
    name = _NON_ALNUM.sub("_", text).strip("_").lower()
    if not name or name[0].isdigit():
        return None
    return name


def is_identifier(text: str) -> bool:
    """A plain Python identifier that is not a keyword."""
    return text.isidentifier() and text.isascii() and not keyword.iskeyword(text)


class NameAllocator:
    """Hands out identifiers that clash with no taken name, keyword or builtin."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()) -> None:
        self.taken = set(taken)

    def claim(self, wanted: str, suffix: str = "step") -> str:
        """`wanted` if free, else `wanted_<suffix>`, then `wanted_<suffix>_2`, ..."""
        candidates = [wanted, f"{wanted}_{suffix}"]
        name = next((c for c in candidates if self._free(c)), None)
        counter = 2
        while name is None:
            candidate = f"{wanted}_{suffix}_{counter}"
            name = candidate if self._free(candidate) else None
            counter += 1
        self.taken.add(name)
        return name

    def _free(self, name: str) -> bool:
        return name not in self.taken and not keyword.iskeyword(name) and name not in BUILTINS
