"""The emit layer: one small module per generated file, each a pure function of the plan.

It may import the lift, analysis and notebook layers and the base modules; what the generated
packages share at run time is `nb2prod/runtime.py`, shipped as it is (`shipped_files`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nb2prod.lift import Plan, Step

StepCodes = Callable[[Sequence["Step"]], Sequence[str | None]]

# The oldest Python a generated package runs on: its pyproject's `requires-python`, from which
# black, run in the package, takes the versions it formats for; nb2prod formats for them too.
REQUIRES_PYTHON = (3, 10)


def oldest_python() -> str:
    """`3.10`: REQUIRES_PYTHON as pyproject and black write it."""
    return ".".join(map(str, REQUIRES_PYTHON))


@dataclass(frozen=True)
class Target:
    """Where a plan goes: the package's name and where its notebook lives."""

    package: str
    source: str  # the notebook's path relative to the project root, posix style
    notebook_dir_from_tests: str  # the notebook's folder relative to the generated tests/
    api: bool = False
    airflow: bool = False
    versions: tuple[tuple[str, str], ...] = ()  # (normalised distribution, lower bound)
    api_parameters: tuple[str, ...] = ()  # path parameters the web API may take
    nb2prod_version: str = ""  # of the nb2prod that builds it, which train() records

    @property
    def distribution(self) -> str:
        return self.package.replace("_", "-")

    def flags(self) -> tuple[str, ...]:
        """The command-line options of this build that shape the package's files, as written."""
        flags = ["--api"] if self.api else []
        flags += [f"--api-parameter {name}" for name in sorted(self.api_parameters)]
        return (*flags, *(["--airflow"] if self.airflow else []))


def emit_package(plan: Plan, target: Target, step_codes: StepCodes | None = None) -> dict[str, str]:
    """Every generated file of the package, by path relative to the package folder, unformatted.

    `step_codes` gives the code of a batch of step functions (by default `module.step_codes`).
    """
    from nb2prod.emit import cli_app, module, package, pyproject, testfile

    pkg = target.package
    codes = (step_codes or module.step_codes)(plan.steps)
    assert all(code is not None for code in codes)
    files = {
        f"{pkg}/__init__.py": package.render(plan, target),
        f"{pkg}/pipeline.py": module.render(plan, target, [c for c in codes if c is not None]),
        f"{pkg}/__main__.py": cli_app.render(plan, target),
        f"tests/test_{pkg}.py": testfile.render(plan, target),
        "pyproject.toml": pyproject.render(plan, target),
    }
    if target.api:
        from nb2prod.emit import api

        files[f"{pkg}/api.py"] = api.render(plan, target)
    if target.airflow:
        from nb2prod.emit import airflow_dag, steps

        files[f"{pkg}/steps.py"] = steps.render(plan, target)
        files[f"{pkg}/airflow_dag.py"] = airflow_dag.render(plan, target)
    return files


def shipped_files(target: Target) -> dict[str, str]:
    """The files a package ships as they are, already formatted: nb2prod's runtime module."""
    from nb2prod.emit import runtime_file

    return {f"{target.package}/{runtime_file.MODULE}": runtime_file.render()}
