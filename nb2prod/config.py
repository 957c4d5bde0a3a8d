"""The one frozen configuration that flows through every stage of a build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Config:
    """Options of `nb2prod build` and `verify`; variants come from `dataclasses.replace`."""

    out: Path = Path("build")
    name: str | None = None
    check: bool = False
    force: bool = False
    api: bool = False
    lower_bounds: str | None = None  # "installed", or a pinned requirements file
    root: Path = field(default_factory=Path.cwd)
    # nb2prod verify: parameter overrides (name, value), float tolerance, seconds per cell,
    # the kernel (None: the notebook's own, else python3), and whether to run every cell too.
    overrides: tuple[tuple[str, Any], ...] = ()
    tolerance: float = 1e-9
    timeout: float = 600.0
    kernel: str | None = None
    whole: bool = False
    cache: bool = True  # reuse results of earlier builds from the cache folder
    cache_dir: Path | None = None  # None: NB2PROD_CACHE_DIR, else the user's cache folder
