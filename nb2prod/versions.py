"""Lower bounds for the generated project's dependencies: from a pinned file, or what is installed.

By default the generated pyproject names its dependencies without versions, so that the same
notebook gives byte-identical output on every machine. A pinned requirements file (the team's
lock) gives bounds that are the same everywhere; `installed` takes them from this environment.
"""

from __future__ import annotations

import re
from pathlib import Path

from nb2prod.errors import NotebookError

INSTALLED = "installed"
_PIN = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==|>=|~=|===)\s*"
    r"(?P<version>[0-9][A-Za-z0-9.+!*-]*)"
)


def lower_bounds(source: str | None) -> tuple[tuple[str, str], ...]:
    """(normalised name, version) pairs from `source`: None, `installed`, or a pinned file."""
    if source is None:
        return ()
    if source == INSTALLED:
        return _installed_versions()
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(
            f"the lower-bounds file {source} cannot be read ({exc}); "
            "name a pinned requirements file or `installed`"
        ) from None
    return pinned_versions(text)


def pinned_versions(text: str) -> tuple[tuple[str, str], ...]:
    """(normalised name, version) for each `name==version` (or >=, ~=) requirements line."""
    from nb2prod.emit.requirements import normalise  # imports libcst: only when bounds are asked

    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line.split("#", 1)[0])
        if match:
            found.setdefault(normalise(match["name"]), match["version"].rstrip(".*"))
    return tuple(sorted(found.items()))


def _installed_versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import distributions

    from nb2prod.emit.requirements import normalise

    found = {
        normalise(d.metadata["Name"]): d.version for d in distributions() if d.metadata["Name"]
    }
    return tuple(sorted(found.items()))
