"""Build one notebook into a package: the pipeline from file to files, errors as values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from nb2prod.config import Config
from nb2prod.errors import Diagnostic, NotebookError

if TYPE_CHECKING:
    from nb2prod.reader import Notebook


class Status(Enum):
    """How a notebook's build ended."""

    WRITTEN = "written"
    UNCHANGED = "unchanged"
    UP_TO_DATE = "up to date"
    STALE = "stale"
    FAILED = "failed"


@dataclass(frozen=True)
class BuildResult:
    """The outcome of building one notebook, with every message in the user's coordinates."""

    notebook: Path
    status: Status
    dest: Path | None = None
    messages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in {Status.WRITTEN, Status.UNCHANGED, Status.UP_TO_DATE}


def build_notebook(path: Path, config: Config) -> BuildResult:
    """Build `path` as `config` says; never raises for a problem with the input or output."""
    from nb2prod import fingerprint

    dest = config.out / (config.name or _package_name(path))
    key = fingerprint.input_key(path, config, dest)
    hit = fingerprint.lookup(key, config, dest)
    if hit is not None:
        return BuildResult(
            path, Status.UP_TO_DATE if config.check else Status.UNCHANGED, dest, hit.messages
        )
    warnings: list[Diagnostic] = []
    try:
        files, dest = generate(path, config, warnings)
        result = _deliver(path, files, dest, config, _render(path, warnings))
    except NotebookError as exc:
        lines = _render(path, [*warnings, exc.diagnostic])
        return BuildResult(path, Status.FAILED, messages=lines)
    except Exception as exc:  # a bug must not print a traceback or stop a folder build
        return BuildResult(path, Status.FAILED, messages=_render(path, [_internal_error(exc)]))
    if result.ok and not config.check:
        fingerprint.record(key, config, dest, files, result.messages)
    return result


INTERNAL_ERROR = "internal error"


def _internal_error(exc: Exception) -> Diagnostic:
    """An unexpected exception as one line the user can report."""
    detail = " ".join(str(exc).split())[:200]
    return Diagnostic(
        f"{INTERNAL_ERROR} ({type(exc).__name__}: {detail}); nothing was written; "
        "please report it with the notebook"
    )


def generate(path: Path, config: Config, warnings: list[Diagnostic]) -> tuple[dict[str, str], Path]:
    """The package's files with their headers, and the folder they belong in."""
    from nb2prod.reader import read_notebook

    return render_package(read_notebook(path), path, config, warnings)


def render_package(
    notebook: Notebook, path: Path, config: Config, warnings: list[Diagnostic]
) -> tuple[dict[str, str], Path]:
    """The files of the package lifted from `notebook`, read from `path`, and their folder."""
    from nb2prod.cells import select
    from nb2prod.emit import Target, emit_package
    from nb2prod.formatting import format_files
    from nb2prod.lift import lift
    from nb2prod.versions import lower_bounds
    from nb2prod.writer import with_header

    selection = select(notebook)
    plan = lift(selection)
    warnings.extend(plan.warnings)
    package = config.name or _package_name(path)
    dest = config.out / package
    source = _relative(path, config.root)
    target = Target(
        package=package,
        source=source,
        notebook_dir_from_tests=_relative(path.parent, dest / "tests"),
        api=config.api,
        versions=lower_bounds(config.lower_bounds),
    )
    files = format_files(emit_package(plan, target))
    return {rel: with_header(text, source) for rel, text in files.items()}, dest


def _package_name(path: Path) -> str:
    from nb2prod.naming import package_name

    return package_name(path.stem)


def _deliver(
    path: Path, files: dict[str, str], dest: Path, config: Config, notes: tuple[str, ...]
) -> BuildResult:
    from nb2prod.writer import check_destination, compare, drift_report, update_package

    if config.check:
        check_destination(dest)
        changes = compare(files, dest, force=config.force)
        if changes.empty and not changes.refused:
            return BuildResult(path, Status.UP_TO_DATE, dest, notes)
        return BuildResult(path, Status.STALE, dest, (*notes, *drift_report(dest, changes)))
    changes = update_package(files, dest, force=config.force)
    status = Status.UNCHANGED if changes.empty else Status.WRITTEN
    return BuildResult(path, status, dest, notes)


def _render(path: Path, diagnostics: list[Diagnostic]) -> tuple[str, ...]:
    return tuple(d.render(path.as_posix()) for d in diagnostics)


def _relative(path: Path, start: Path) -> str:
    """`path` relative to `start`, posix style, so that output names no absolute path."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
