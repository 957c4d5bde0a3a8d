"""The layers of nb2prod: imports point one way, and options cannot drift from the cache key."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import typer.main

from nb2prod.cli import app
from nb2prod.options import BuildOptions, RunOptions, file_keys

PACKAGE = Path(__file__).resolve().parents[1] / "nb2prod"

# Pipeline order: a module may import from its own layer and from earlier ones only.
LAYERS = ["base", "notebook", "analysis", "lift", "emit", "output", "orchestration"]
BASE = {"errors", "naming", "literals", "runtime"}


def _layer(module: str) -> str:
    parts = module.split(".")[1:]  # without the leading `nb2prod`
    if not parts or parts[0] in {"__init__", "__main__"}:
        return "orchestration"
    if parts[0] in BASE:
        return "base"
    if parts[0] in LAYERS:
        return parts[0]
    return "orchestration"  # build, batch, caching, verify, lint, exporter, cli, ...


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every nb2prod module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "nb2prod" or name.startswith("nb2prod.")}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_point_one_way(path: Path) -> None:
    own = _layer(_module_name(path))
    for imported in _imports(path):
        if imported == "nb2prod":  # the version, from the package's own __init__
            assert own == "orchestration", f"{path.name} imports nb2prod itself"
            continue
        theirs = _layer(imported)
        assert LAYERS.index(theirs) <= LAYERS.index(own), (
            f"{_module_name(path)} ({own}) imports {imported} ({theirs})"
        )


def test_the_runtime_shipped_into_packages_imports_nothing_of_nb2prod() -> None:
    assert _imports(PACKAGE / "runtime.py") == set()


def test_every_layer_says_what_it_does_and_may_import() -> None:
    for folder in [p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]:
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc, f"{folder.name}/__init__.py has no docstring"


def test_a_new_build_option_changes_the_cache_key() -> None:
    """An option added to BuildOptions is in the key without anyone listing it."""

    @dataclasses.dataclass(frozen=True)
    class WithMore(BuildOptions):
        dialect: str = "plain"

    assert WithMore(dialect="plain").cache_key() != WithMore(dialect="fancy").cache_key()
    assert WithMore().cache_key() != BuildOptions().cache_key()


def test_every_settings_key_is_an_option_of_build() -> None:
    """[tool.nb2prod]'s keys are the build command's parameters, so defaults reach them."""
    command = typer.main.get_command(app).commands["build"]  # type: ignore[attr-defined]
    parameters = {parameter.name for parameter in command.params}
    assert set(file_keys()) <= parameters
    command_line_only = {
        f.name
        for kind in (BuildOptions, RunOptions)
        for f in dataclasses.fields(kind)
        if not f.metadata.get("in_file", True)
    }
    assert command_line_only == {"root", "cache", "cache_dir"}
