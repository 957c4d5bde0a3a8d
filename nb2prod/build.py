"""Build one notebook into a package: the pipeline from file to files, errors as values."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from nb2prod.config import Config
from nb2prod.errors import Diagnostic, NotebookError

if TYPE_CHECKING:
    from nb2prod.caching.store import Cache
    from nb2prod.emit import Target
    from nb2prod.notebook.reader import Notebook


WORKER_MIN_CELLS = 100  # measured: below this, starting a second process early does not pay


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
    from nb2prod.notebook.reader import read_bytes

    dest = config.out / (config.name or _package_name(path))
    warnings: list[Diagnostic] = []
    try:
        data = read_bytes(path)  # once, for the no-op record and for the build
        key = fingerprint.input_key(data, path, config, dest)
        hit = fingerprint.lookup(key, config, dest)
        if hit is not None:
            status = Status.UP_TO_DATE if config.check else Status.UNCHANGED
            return BuildResult(path, status, dest, hit.messages)
        files, dest = generate(path, config, warnings, data)
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


def generate(
    path: Path, config: Config, warnings: list[Diagnostic], data: bytes | None = None
) -> tuple[dict[str, str], Path]:
    """The package's files with their headers, and the folder they belong in.

    `data` is the notebook's bytes when the caller has read them already.
    """
    from nb2prod.caching.store import Pack, decode_result, encode_result, key, open_cache, pack_name
    from nb2prod.notebook.reader import parse_notebook, read_bytes

    target, dest = package_target(path, config)
    data = read_bytes(path) if data is None else data
    # What this notebook's last build made, in one file: its whole result, kept by the
    # notebook's bytes and the target (a rebuild of an unchanged notebook skips every stage),
    # and its per-cell results (a rebuild after an edit redoes only what the edit touched).
    pack = Pack(
        open_cache(config.cache_dir, enabled=config.cache),
        pack_name(os.path.realpath(path), target.package),
    )
    entry = key("build", data.decode("utf-8", "surrogateescape"), repr(target))
    found = decode_result(pack.get("build", entry) or b"null")
    if found is not None:
        warnings.extend(found[1])
        return found[0], dest
    files = render_package(parse_notebook(data), target, warnings, pack)
    pack.put("build", entry, encode_result(files, warnings))
    pack.save()
    return files, dest


@contextmanager
def _collector_paused() -> Iterator[Callable[[], None]]:
    """Pause Python's cyclic garbage collector while a notebook is parsed, lifted and emitted;
    the function it gives turns the collector back on.

    libcst builds hundreds of thousands of nodes and almost no cycles; the collector's passes
    over them took about 30% of a 2000-cell build, and the first collection after the pause
    another 10%. So when it resumes, what exists is moved out of the collector's sight
    (`gc.freeze`) for the rest of the block, formatting included (black's trees are full of
    cycles, so it runs with the collector on), and handed back (`gc.unfreeze`) at the end, so
    that any cycle left among them is still collected later.
    """
    was_on = gc.isenabled()
    frozen = False

    def resume() -> None:
        nonlocal frozen
        if was_on and not frozen:
            gc.freeze()
            frozen = True
            gc.enable()

    gc.disable()
    try:
        yield resume
    finally:
        if frozen:
            gc.unfreeze()
        elif was_on:
            gc.enable()


def package_target(path: Path, config: Config) -> tuple[Target, Path]:
    """What the package built from `path` is called and where it goes."""
    from nb2prod.emit import Target
    from nb2prod.versions import lower_bounds

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
    return target, dest


def render_package(
    notebook: Notebook, target: Target, warnings: list[Diagnostic], cache: Cache | None = None
) -> dict[str, str]:
    """Select, lift, emit, format and add the headers: the files of the package."""
    from nb2prod.emit import emit_package
    from nb2prod.lift import lift
    from nb2prod.notebook.cells import select
    from nb2prod.output.formatting import Worker, format_files
    from nb2prod.output.writer import with_header

    # A notebook of some size gets a second process now, which loads black while this one
    # analyses; a small one is formatted here.
    workers = Worker(enabled=len(notebook.cells) >= WORKER_MIN_CELLS)
    with workers as worker, _collector_paused() as resume_collector:
        selection = select(notebook, cache)
        plan = lift(selection)
        warnings.extend(plan.warnings)
        emitted = emit_package(plan, target, cache)
        resume_collector()
        files = format_files(emitted, cache=cache, worker=worker)
    return {rel: with_header(text, target.source) for rel, text in files.items()}


def _package_name(path: Path) -> str:
    from nb2prod.naming import package_name

    return package_name(path.stem)


def _deliver(
    path: Path, files: dict[str, str], dest: Path, config: Config, notes: tuple[str, ...]
) -> BuildResult:
    from nb2prod.output.writer import check_destination, compare, drift_report, update_package

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
