"""Emitters: one small module per generated file, each a pure function of the plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nb2prod.lift import Plan

if TYPE_CHECKING:
    from nb2prod.caching.store import Cache


@dataclass(frozen=True)
class Target:
    """Where a plan goes: the package's name and where its notebook lives."""

    package: str
    source: str  # the notebook's path relative to the project root, posix style
    notebook_dir_from_tests: str  # the notebook's folder relative to the generated tests/
    api: bool = False
    versions: tuple[tuple[str, str], ...] = ()  # (normalised distribution, lower bound)

    @property
    def distribution(self) -> str:
        return self.package.replace("_", "-")


def emit_package(plan: Plan, target: Target, cache: Cache | None = None) -> dict[str, str]:
    """Every generated file of the package, by path relative to the package folder, unformatted.

    `cache` keeps the code of each step function between builds.
    """
    from nb2prod.emit import cli_app, module, package, pyproject, testfile

    pkg = target.package
    files = {
        f"{pkg}/__init__.py": package.render(plan, target),
        f"{pkg}/pipeline.py": module.render(plan, target, cache),
        f"{pkg}/__main__.py": cli_app.render(plan, target),
        f"tests/test_{pkg}.py": testfile.render(plan, target),
        "pyproject.toml": pyproject.render(plan, target),
    }
    if target.api:
        from nb2prod.emit import api

        files[f"{pkg}/api.py"] = api.render(plan, target)
    return files
