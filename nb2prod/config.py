"""The one frozen configuration that flows through every stage of a build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Config:
    """Options of `nb2prod build`; variants come from `dataclasses.replace`."""

    out: Path = Path("build")
    name: str | None = None
    check: bool = False
    force: bool = False
    api: bool = False
    lower_bounds: str | None = None  # "installed", or a pinned requirements file
    root: Path = field(default_factory=Path.cwd)
