"""`pyproject.toml` of the generated project: its name, inferred dependencies, console script.

It also records the build options that shaped the package (`--api`), so that a drift check
run with other options can say so instead of listing the files they change.
"""

from __future__ import annotations

from nb2prod.emit import Target, oldest_python
from nb2prod.emit.requirements import normalise, requirements
from nb2prod.emit.text import toml_string
from nb2prod.lift import Plan

RUNTIME = ("typer>=0.9",)
# The store of runtime.py: files under any fsspec URL, values JSON, .npy, joblib or cloudpickle.
STORE = ("fsspec>=2023.10", "joblib>=1.3", "cloudpickle>=2.2")
AIRFLOW = "apache-airflow>=3.0,<4"  # airflow.sdk's TaskFlow API, as airflow_dag.py uses it
OPTIONS = "# Built with these nb2prod build options: "


def _bounded(distribution: str, bounds: dict[str, str]) -> str:
    """`name>=version` when a lower bound is known for the distribution, else its name."""
    version = bounds.get(normalise(distribution))
    return f"{distribution}>={version}" if version else distribution


def render(plan: Plan, target: Target) -> str:
    """The generated project's pyproject.toml."""
    bounds = dict(target.versions)
    imported = requirements(plan.all_imports())
    if plan.serving is not None and "joblib" not in imported:
        imported.append("joblib")  # train() saves the artifacts with it
    dependencies = [*RUNTIME, *(_bounded(d, bounds) for d in imported)]
    listed = "".join(f"    {toml_string(d)},\n" for d in dependencies)
    description = toml_string(f"Pipeline lifted from {target.source} by nb2prod")
    return f"""{OPTIONS}{" ".join(target.flags()) or "(none)"}
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = {toml_string(target.distribution)}
version = "0.1.0"
description = {description}
requires-python = ">={oldest_python()}"
dependencies = [
{listed}]

[project.optional-dependencies]
{_extras(target)}
[project.scripts]
{target.distribution} = "{target.package}.__main__:app"

[tool.setuptools]
packages = [{toml_string(target.package)}]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
"""


def recorded_flags(text: str) -> tuple[str, ...] | None:
    """The build options a generated pyproject.toml records, or None when it records none."""
    for line in text.splitlines():
        if line.startswith(OPTIONS):
            recorded = line[len(OPTIONS) :].strip()
            return () if recorded == "(none)" else tuple(_split_flags(recorded))
    return None


def _split_flags(text: str) -> list[str]:
    """`--api --api-parameter a` -> [`--api`, `--api-parameter a`]."""
    flags: list[str] = []
    for word in text.split():
        if word.startswith("--") or not flags:
            flags.append(word)
        else:
            flags[-1] += f" {word}"
    return flags


def _extras(target: Target) -> str:
    """The test extra; with --api the api extra (its tests need httpx for TestClient); with
    --airflow the airflow extra, and the store's needs for the tests that run the steps apart."""
    test = ["pytest>=7"]
    extras = []
    if target.api:
        test.append("httpx>=0.24")
        extras.append('api = ["fastapi>=0.110", "pydantic>=2", "uvicorn>=0.23"]\n')
    if target.airflow:
        test += STORE
        listed = ", ".join(toml_string(d) for d in (AIRFLOW, *STORE))
        extras.append(f"airflow = [{listed}]\n")
    return f"test = [{', '.join(toml_string(d) for d in test)}]\n" + "".join(extras)
