"""Build one notebook into a package: the pipeline from file to files, errors as values.

This is the shell around the pure stages: it reads the notebook, runs the stages with the
memoised versions of their units of work (cells, steps, formatted chunks), keeps the whole
result under the key of everything it depends on, and writes or checks the package.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.errors import Diagnostic, NotebookError, render_all
from nb2prod.notebook import DIALECTS
from nb2prod.options import BuildOptions, RunOptions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from nb2prod.caching.memo import Memo, Outcomes, Recent
    from nb2prod.emit import Target
    from nb2prod.notebook.cells import MarkedCell
    from nb2prod.notebook.reader import Notebook, Validity
    from nb2prod.output.formatting import Worker


# Without a worker from the caller (the exporter, verify, a build in a Jupyter kernel), a
# second process started once the notebook is parsed pays from this many cells (measured).
WORKER_MIN_CELLS = 100


class Status(Enum):
    """How a notebook's build ended."""

    WRITTEN = "written"
    UNCHANGED = "unchanged"
    UP_TO_DATE = "up to date"
    STALE = "stale"
    OTHER_OPTIONS = "built with other options"  # --check with options the build did not use
    FAILED = "failed"


@dataclass(frozen=True)
class BuildResult:
    """The outcome of building one notebook, with every message in the user's coordinates."""

    notebook: Path
    status: Status
    dest: Path | None = None
    messages: tuple[str, ...] = ()  # errors and warnings
    notes: tuple[str, ...] = ()  # what the build found, for the user who is not --quiet

    @property
    def ok(self) -> bool:
        return self.status in {Status.WRITTEN, Status.UNCHANGED, Status.UP_TO_DATE}


def build_notebook(
    path: Path,
    options: BuildOptions,
    run: RunOptions | None = None,
    worker: Worker | None = None,
) -> BuildResult:
    """Build `path` as `options` say; never raises for a problem with the input or output.

    `worker` is a formatting process the caller keeps for several builds (see `generate`)."""
    run = run or RunOptions()
    warnings: list[Diagnostic] = []
    try:
        files, dest = generate(path, options, warnings, run, worker)
        problems = render_all(path, [w for w in warnings if not w.note])
        result = _deliver(path, files, dest, run, problems)
        return replace(result, notes=render_all(path, [w for w in warnings if w.note]))
    except NotebookError as exc:
        failed = [*(w for w in warnings if not w.note), exc.diagnostic]
        return BuildResult(path, Status.FAILED, messages=render_all(path, failed))
    except Exception as exc:  # a bug must not print a traceback or stop a folder build
        return BuildResult(path, Status.FAILED, messages=render_all(path, [_internal_error(exc)]))


INTERNAL_ERROR = "internal error"


def _internal_error(exc: Exception) -> Diagnostic:
    """An unexpected exception as one line the user can report."""
    detail = " ".join(str(exc).split())[:200]
    return Diagnostic(
        f"{INTERNAL_ERROR} ({type(exc).__name__}: {detail}); nothing was written; "
        "please report it with the notebook"
    )


def generate(
    path: Path,
    options: BuildOptions,
    warnings: list[Diagnostic],
    run: RunOptions | None = None,
    worker: Worker | None = None,
) -> tuple[dict[str, str], Path]:
    """The package's files with their headers, and the folder they belong in.

    An unchanged notebook built with the same options is answered from its last build's
    whole result; otherwise the stages run, each remembering its units of work between builds.
    They then have a second process for their formatting, started as the notebook is read so
    that it checks the notebook's schema and loads black while this one imports libcst and
    analyses the notebook: `worker`, the caller's, or one of this build's own where it can
    fork.
    """
    from nb2prod.caching.memo import Outcome
    from nb2prod.notebook.reader import parse_file, read_bytes

    run = run or RunOptions()
    target, dest = package_target(path, options)
    data = read_bytes(path)
    memo, outcomes = _memory(path, target, run)
    build_key = _build_key(options, target, data)
    known = outcomes.get(build_key)
    if known is not None:
        warnings.extend(known.warnings)
        return known.files, dest
    found: list[Diagnostic] = []
    with _formatting_process(worker) as early:
        notebook = parse_file(data, path.suffix, _checked_meanwhile(early))
        early.start()  # a text notebook has no schema check: black loads from here on
        started = early if early.pool is not None else None
        try:
            files = render_package(notebook, target, found, memo, options.marks, started)
        except NotebookError as exc:
            raise NotebookError.of(notebook.placed(exc.diagnostic)) from None
    found = [notebook.placed(note) for note in found]
    warnings.extend(found)
    memo.save()
    outcomes.put(Outcome(build_key, files, tuple(found)))
    return files, dest


@contextmanager
def _formatting_process(given: Worker | None) -> Iterator[Worker]:
    """`given`, else a worker of this build's own where one starts by fork (one started afresh
    imports nb2prod again: more than a small notebook saves). It starts with the notebook's
    schema check (`_checked_meanwhile`), or once the notebook is read."""
    from nb2prod.output.formatting import Worker, starts_at_once

    if given is not None:
        yield given
        return
    with Worker(enabled=starts_at_once(), later=True) as own:
        yield own


def _checked_meanwhile(worker: Worker) -> Validity:
    """The notebook's schema check, run in `worker` (started with it, before it imports black)
    while this process imports the stages it runs next: fastjsonschema compiles nbformat's
    schema (about 45 ms) there, libcst loads (about 170 ms) here. Here, without a process."""
    from nb2prod.notebook.reader import valid_as_saved

    def valid(raw: dict[str, Any]) -> bool:
        try:
            answer = worker.first(functools.partial(valid_as_saved, raw))
        except RuntimeError:  # the process was shut down
            answer = None
        if answer is None:
            return valid_as_saved(raw)
        import nb2prod.analysis.facts  # noqa: F401  (libcst, which the stages need next)

        try:
            return answer.result()
        except Exception:  # the process is gone (killed, out of memory): check here
            return valid_as_saved(raw)

    return valid


def _memory(path: Path, target: Target, run: RunOptions) -> tuple[Memo, Outcomes]:
    """Where this notebook's stage results and whole result are kept (nowhere with --no-cache)."""
    from nb2prod.caching.memo import Memo, Outcomes
    from nb2prod.caching.store import Pack, open_cache, pack_name

    if not run.cache:
        return Memo(), Outcomes(None, "")
    store = open_cache(run.cache_dir)
    name = pack_name(os.path.realpath(path), target.package)
    return Memo(Pack(store, name)), Outcomes(store, name)


def _build_key(options: BuildOptions, target: Target, data: bytes) -> str:
    """The key of everything a build's files depend on: nb2prod's code and libraries (in
    `key`), the options, what they resolve to (names, paths, lower bounds), the distributions
    installed (dependency names are looked up among them) and the notebook's bytes."""
    from nb2prod.caching.store import installed, key

    digest = hashlib.sha256(data).hexdigest()
    return key("build", options.cache_key(), repr(target), installed(), digest)


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


def package_target(path: Path, options: BuildOptions) -> tuple[Target, Path]:
    """What the package built from `path` is called and where it goes."""
    from nb2prod import __version__
    from nb2prod.emit import Target
    from nb2prod.versions import lower_bounds

    package = options.name or _package_name(path)
    dest = options.out / package
    source = _relative(path, options.root)
    target = Target(
        package=package,
        source=source,
        notebook_dir_from_tests=_relative(path.parent, dest / "tests"),
        api=options.api,
        airflow=options.airflow,
        versions=lower_bounds(options.lower_bounds),
        api_parameters=options.api_parameters if options.api else (),
        nb2prod_version=__version__,
    )
    return target, dest


def render_package(
    notebook: Notebook,
    target: Target,
    warnings: list[Diagnostic],
    memo: Memo | None = None,
    marks: Sequence[str] = DIALECTS,
    worker: Worker | None = None,
) -> dict[str, str]:
    """Select, lift, emit, format and add the headers: the files of the package.

    With `memo`, each stage's units of work (cells, steps, formatted chunks) are answered from
    earlier builds where they are unchanged; `marks` are the dialects of marks read; `worker`
    is the second process that formats, when the caller started one before reading.
    """
    from nb2prod.analysis.facts import Found
    from nb2prod.analysis.selection import examine_cells, select
    from nb2prod.caching.memo import Memo
    from nb2prod.emit import emit_package, shipped_files
    from nb2prod.emit.module import step_codes
    from nb2prod.lift import lift
    from nb2prod.output.formatting import format_batch, format_files, formatted_chunks, style_key
    from nb2prod.output.writer import with_header

    memo = memo or Memo()
    warnings.extend(notebook.warnings)
    examine = memo.wrap("cell", examine_cells, digest=_cell_digest, kind=Found)
    steps = memo.wrap("step", step_codes, digest=lambda step: step.identity(), kind=str)
    with (
        _own_worker(worker, len(notebook.cells)) as worker,
        _collector_paused() as resume_collector,
    ):
        selection = select(notebook, examine, marks)
        plan = lift(selection)
        if target.airflow:
            from nb2prod.lift.tasks import check_apart

            check_apart(plan)
        warnings.extend(plan.warnings)
        if target.api:
            from nb2prod.emit.api import allowed_warnings

            warnings.extend(allowed_warnings(plan, target))
        emitted = emit_package(plan, target, steps)
        resume_collector()

        def sections(texts: Sequence[str]) -> list[str]:
            return format_batch(texts, worker)

        # In a folder build's process, the sections it formatted for earlier notebooks (the
        # command line's and the tests' helpers) answer first.
        remembered = _RECENT[0].wrap(sections) if _RECENT else sections

        def chunks(texts: Sequence[str]) -> list[str | None]:
            return formatted_chunks(texts, worker, remembered)

        formatter = memo.wrap("chunk", chunks, digest=str, kind=str, options=style_key())
        files = {**format_files(emitted, format_chunks=formatter), **shipped_files(target)}
    return {rel: with_header(text, target.source) for rel, text in files.items()}


@contextmanager
def _own_worker(given: Worker | None, cells: int) -> Iterator[Worker | None]:
    """`given` (its maker shuts it down); without one, a notebook of some size gets a second
    process now, which loads black while this one analyses, and a small one is formatted here."""
    from nb2prod.output.formatting import Worker

    if given is not None:
        yield given
        return
    with Worker(enabled=cells >= WORKER_MIN_CELLS) as own:
        yield own if own.pool is not None else None


_RECENT: list[Recent] = []  # set in a folder build's processes (`remember_formatting`)
RECENT_BUDGET = 32_000_000  # characters of code, as written and formatted


def remember_formatting() -> None:
    """Make this process keep the sections it formatted for the notebooks it builds next: one
    of a folder build's, whose packages share most of their command line's and tests' helpers."""
    from nb2prod.caching.memo import Recent

    if not _RECENT:
        _RECENT.append(Recent(RECENT_BUDGET))


def _cell_digest(cell: MarkedCell) -> str:
    """What a cell's facts depend on: its source and whether it must lift."""
    return f"{'strict' if cell.strict else 'lenient'}\n{cell.source}"


def _package_name(path: Path) -> str:
    from nb2prod.naming import package_name

    return package_name(path.stem)


def _deliver(
    path: Path, files: dict[str, str], dest: Path, run: RunOptions, notes: tuple[str, ...]
) -> BuildResult:
    from nb2prod.output.writer import check_destination, compare, drift_report, update_package

    if run.check:
        check_destination(dest)
        changes = compare(files, dest, force=run.force)
        if changes.empty and not changes.refused:
            return BuildResult(path, Status.UP_TO_DATE, dest, notes)
        differ = _options_differ(dest, files)
        if differ is not None:
            return BuildResult(path, Status.OTHER_OPTIONS, dest, (*notes, differ))
        return BuildResult(path, Status.STALE, dest, (*notes, *drift_report(dest, changes)))
    changes = update_package(files, dest, force=run.force)
    status = Status.UNCHANGED if changes.empty else Status.WRITTEN
    return BuildResult(path, status, dest, notes)


def _options_differ(dest: Path, files: dict[str, str]) -> str | None:
    """One line saying how the options of the package's build and of this check differ, when
    they do: every file they shape would otherwise be listed as stale."""
    from nb2prod.emit.pyproject import recorded_flags
    from nb2prod.output.writer import Ownership, ownership

    try:
        text = (dest / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    built = recorded_flags(text) if ownership(text) is Ownership.GENERATED else None
    checked = recorded_flags(files["pyproject.toml"])
    if built is None or checked is None or set(built) == set(checked):
        return None
    gone = [flag for flag in built if flag not in checked]
    added = [flag for flag in checked if flag not in built]
    them = "it" if len(gone + added) == 1 else "them"
    if not added:
        how = f"was built with {' '.join(gone)}; this check runs without {them}"
    elif not gone:
        how = f"was built without {' '.join(added)}; this check runs with {them}"
    else:
        how = f"was built with {' '.join(built)}; this check runs with {' '.join(checked)}"
    return f"{dest.as_posix()} {how}; give both the same options (keep them in [tool.nb2prod])"


def _relative(path: Path, start: Path) -> str:
    """`path` relative to `start`, posix style, so that output names no absolute path."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
