"""Read `[tool.nb2prod]` from the nearest pyproject.toml that has it, walking up from a folder.

The values become the defaults of the command line's options (typer's `default_map`), so an
option given on the command line wins; their keys and types come from `nb2prod.options`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.lint import LintRules
from nb2prod.notebook import DIALECTS
from nb2prod.options import file_keys, path_keys

PYPROJECT = "pyproject.toml"
SECTION = "[tool.nb2prod]"


class SettingsError(Exception):
    """pyproject.toml's nb2prod settings cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Settings:
    """The options a project set for nb2prod; paths already relative to the working folder."""

    file: Path | None = None
    root: Path | None = None  # the folder of the pyproject.toml, against which paths are given
    defaults: dict[str, Any] = field(default_factory=dict)  # by option name, checked and typed
    lint: LintRules = field(default_factory=LintRules)

    def default_map(self) -> dict[str, dict[str, Any]]:
        """The defaults of each command's options, as typer's `default_map` takes them."""
        build = {key: _as_text(value) for key, value in self.defaults.items()}
        notebooks = build.get("notebooks")
        return {"build": build, "lint": {"paths": notebooks} if notebooks else {}}


def _as_text(value: Any) -> Any:
    """Paths as text, as a command line gives them."""
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    return value.as_posix() if isinstance(value, Path) else value


def load_settings(start: Path) -> Settings:
    """The settings of the nearest pyproject.toml above `start` with a `[tool.nb2prod]` table."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / PYPROJECT
        if candidate.is_file():
            table = _tool_table(candidate)
            if table is not None:
                return _settings(candidate, table, start)
    return Settings()


def _tool_table(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path.as_posix()}: cannot be read as TOML ({exc})") from None
    table = data.get("tool", {}).get("nb2prod")
    if table is not None and not isinstance(table, dict):
        raise SettingsError(f"{path.as_posix()}: tool.nb2prod must be a table")
    return table


def _settings(path: Path, table: dict[str, Any], start: Path) -> Settings:
    shown = _shown(path, start)
    lint_table = table.get("lint", {})
    if not isinstance(lint_table, dict):
        raise SettingsError(f"{shown}: [tool.nb2prod] lint must be a table")
    options = {}
    schema = file_keys()
    for key, value in table.items():
        if key == "lint":
            continue
        options[key] = _checked(shown, SECTION, key, value, schema)
    root = path.parent
    if "notebooks" in options:
        options["notebooks"] = [_path(root, item, start) for item in options["notebooks"]]
    for key in path_keys() & options.keys() - {"notebooks"}:
        options[key] = _path(root, options[key], start)
    if "lower_bounds" in options and options["lower_bounds"] != "installed":
        options["lower_bounds"] = _path(root, options["lower_bounds"], start).as_posix()
    return Settings(path, _shown_path(root, start), options, _lint_rules(shown, lint_table))


def _checked(shown: str, section: str, key: str, value: Any, schema: dict[str, type]) -> Any:
    """`value` if `key` is known and `value` has its type; else a SettingsError naming the key."""
    if key not in schema:
        known = ", ".join(sorted(schema))
        raise SettingsError(f"{shown}: {section} has an unknown key {key!r}; known keys: {known}")
    wanted = str if schema[key] is Path else schema[key]
    if wanted is list and isinstance(value, str):
        value = [value]
    wrong_bool = isinstance(value, bool) and wanted is not bool
    if not isinstance(value, wanted) or wrong_bool or not _items_are_strings(value):
        kind = {list: "a list of strings", str: "a string", bool: "true or false", int: "a number"}
        raise SettingsError(f"{shown}: {section} {key} must be {kind[wanted]}, not {value!r}")
    if key == "jobs" and isinstance(value, int) and value < 1:
        raise SettingsError(f"{shown}: {section} jobs must be 1 or more, not {value}")
    if key == "marks" and section == SECTION and isinstance(value, list):
        _check_marks(shown, value)
    return value


def _check_marks(shown: str, names: list[str]) -> None:
    """`marks` names one or more of the dialects nb2prod reads, and nothing else."""
    known = ", ".join(DIALECTS)
    if not names:
        raise SettingsError(f"{shown}: {SECTION} marks must name one or more of {known}")
    unknown = [name for name in names if name not in DIALECTS]
    if unknown:
        raise SettingsError(
            f"{shown}: {SECTION} marks has an unknown dialect {unknown[0]!r}; known: {known}"
        )


def _items_are_strings(value: Any) -> bool:
    return not isinstance(value, list) or all(isinstance(item, str) for item in value)


def _lint_rules(shown: str, table: dict[str, Any]) -> LintRules:
    schema = LintRules.schema()
    values = {
        key: _checked(shown, "[tool.nb2prod.lint]", key, v, schema) for key, v in table.items()
    }
    return LintRules.from_settings(values)


def _path(root: Path, value: str, start: Path) -> Path:
    """A path written in the pyproject (relative to its folder) as seen from `start`."""
    return _shown_path(root / value, start)


def _shown_path(path: Path, start: Path) -> Path:
    try:
        return Path(os.path.relpath(path, start.resolve()))
    except ValueError:  # another drive on Windows
        return path


def _shown(path: Path, start: Path) -> str:
    return _shown_path(path, start).as_posix()
