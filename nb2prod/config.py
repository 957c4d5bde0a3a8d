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
    root: Path = field(default_factory=Path.cwd)
    cache: bool = True  # reuse results of earlier builds from the cache folder
    cache_dir: Path | None = None  # None: NB2PROD_CACHE_DIR, else the user's cache folder
