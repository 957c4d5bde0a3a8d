"""The options of nb2prod's commands, typed end to end: one frozen value per concern.

`BuildOptions` is what a package's files depend on besides the notebook, so all of it is in
the key under which a build's result is kept (`cache_key`): an option added there cannot be
forgotten in the key. `RunOptions` is how a build command runs, which never changes the files.
`VerifyOptions` is what `nb2prod verify` adds. Variants come from `dataclasses.replace`.

A field's metadata says whether `[tool.nb2prod]` in pyproject.toml may set it (`in_file`); the
keys of that table, and their types, are read off these classes.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.notebook import DIALECTS

# The metadata of an option that only the command line sets.
COMMAND_LINE_ONLY = types.MappingProxyType({"in_file": False})


@dataclass(frozen=True)
class BuildOptions:
    """What a build's output depends on besides the notebook itself."""

    out: Path = Path("build")
    name: str | None = None
    api: bool = False
    airflow: bool = False  # an Airflow DAG of the steps: `<package>/airflow_dag.py`
    # Parameters whose defaults are paths that the web API may still take as request fields.
    api_parameters: tuple[str, ...] = ()
    lower_bounds: str | None = None  # "installed", or a pinned requirements file
    marks: tuple[str, ...] = DIALECTS  # the tools whose cell marks are read
    # The folder against which generated headers name the notebook: the pyproject's folder.
    root: Path = field(default_factory=Path.cwd, metadata=COMMAND_LINE_ONLY)

    def cache_key(self) -> str:
        """Every field's name and value, as text: the part of a build's key that options give."""
        return repr([(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)])


@dataclass(frozen=True)
class RunOptions:
    """How a build command runs: none of it changes the files a build generates."""

    check: bool = False
    force: bool = False
    jobs: int = 1
    quiet: bool = False
    cache: bool = field(default=True, metadata=COMMAND_LINE_ONLY)
    cache_dir: Path | None = field(default=None, metadata=COMMAND_LINE_ONLY)


@dataclass(frozen=True)
class VerifyOptions:
    """`nb2prod verify`: parameter overrides (name, value), float tolerance, seconds a cell may
    take in the kernel (run() may take that for each cell it stands for), the kernel (None: the
    notebook's own, else python3), and whether to run every cell too."""

    overrides: tuple[tuple[str, Any], ...] = ()
    tolerance: float = 1e-9
    timeout: float = 600.0
    kernel: str | None = None
    whole: bool = False
    marks: tuple[str, ...] = DIALECTS  # as the project's `marks` setting says


def file_keys() -> dict[str, type]:
    """The keys `[tool.nb2prod]` may set, each with the type its value has in TOML."""
    keys: dict[str, type] = {"notebooks": list}
    for kind in (BuildOptions, RunOptions):
        hints = typing.get_type_hints(kind)
        for option in dataclasses.fields(kind):
            if option.metadata.get("in_file", True):
                keys[option.name] = _toml_type(hints[option.name])
    return keys


def path_keys() -> frozenset[str]:
    """The keys whose values are paths, written relative to the pyproject's folder."""
    found = {"notebooks"}
    for kind in (BuildOptions, RunOptions):
        hints = typing.get_type_hints(kind)
        found |= {name for name, hint in hints.items() if _toml_type(hint) is Path}
    return frozenset(found)


def _toml_type(hint: Any) -> type:
    """`str | None` -> str; `tuple[str, ...]` -> list; Path stays Path (text in the file)."""
    if typing.get_origin(hint) in {tuple, list}:
        return list
    arguments = [a for a in typing.get_args(hint) if a is not type(None)]
    base = arguments[0] if arguments else hint
    assert isinstance(base, type)
    return base
