"""Format generated Python with black and check that it parses (the only black import).

Black's cost grows faster than the size of the code, so a large module is cut, without parsing
it, into chunks before each step function and run(); each chunk is cut into sections at its
top-level functions and classes, each section is formatted on its own (the two cores share the
work when there is enough of it), and the sections are joined with the two blank lines black
puts around top-level definitions. The result is black's formatting of the whole module. Every
function here is pure: the orchestration keeps formatted chunks between builds by handing
`format_files` a memoised chunk formatter.
"""

from __future__ import annotations

import ast
import functools
import gc
import itertools
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from nb2prod.emit import REQUIRES_PYTHON, oldest_python
from nb2prod.emit.text import join_sections
from nb2prod.errors import NotebookError

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.context import BaseContext

    from black import Mode

LINE_LENGTH = 88
SECTION_MIN_LINES = 200  # below this, a module is one chunk (chunks are cut without parsing)
_IMPORT_LOCK = threading.Lock()
_MAGIC_COMMA = re.compile(r",[ \t]*(?:#[^\n]*)?\n[ \t]*[)\]}]")  # a comma ending a bracketed run
PARALLEL_MIN_LINES = 600  # below this, starting a second process costs more than it saves
# Importing black costs this process about what formatting this many lines does (85 ms, at
# about 3 lines a millisecond): a worker that has it loaded takes that many lines more.
IMPORT_LINES = 250


ChunkFormatter = Callable[[Sequence[str]], Sequence["str | None"]]
T = TypeVar("T")
# Formats a batch of sections (each a top-level definition, or what lies between two).
SectionFormatter = Callable[[Sequence[str]], Sequence[str]]


def format_python(source: str) -> str:
    """black-format generated code; raise NotebookError if nb2prod generated invalid code."""
    return format_files({"module.py": source})["module.py"]


def format_files(
    files: dict[str, str],
    *,
    worker: Worker | None = None,
    format_chunks: ChunkFormatter | None = None,
) -> dict[str, str]:
    """Every `.py` file formatted, other files as they are.

    Each file is cut into chunks without parsing it (`chunks`), and all chunks of all files go
    to `format_chunks` in one batch (by default `formatted_chunks` with `worker`), so that a
    second process gets its share of the work. A file with a chunk that does not stand on its
    own (a cut inside a string) is formatted whole instead.
    """
    formatter = format_chunks or functools.partial(formatted_chunks, worker=worker)
    parts = {path: chunks(text) for path, text in files.items() if path.endswith(".py")}
    unique = list(dict.fromkeys(chunk for found in parts.values() for chunk in found))
    result = dict(files)
    try:
        done = dict(zip(unique, formatter(unique), strict=True))
        for path, found in parts.items():
            pieces = [done[chunk] for chunk in found]
            if any(piece is None for piece in pieces):
                pieces = [_joined(format_batch(_pieces(files[path]), worker))]
            result[path] = _joined([piece for piece in pieces if piece is not None])
    except (SyntaxError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookError(
            f"nb2prod generated code it cannot format ({first}); this is a bug in nb2prod, "
            "please report it with the notebook"
        ) from None
    return result


def formatted_chunks(
    texts: Sequence[str],
    worker: Worker | None = None,
    format_sections: SectionFormatter | None = None,
) -> list[str | None]:
    """Each chunk black-formatted on its own; None for one that does not parse on its own.

    A chunk is cut into sections at its top-level definitions (black's cost grows faster than
    the code), and the sections of all chunks are formatted in one batch: by
    `format_sections`, by default `format_batch` with `worker`.
    """
    cut = [_sections_of(text) for text in texts]
    flat = [section for sections in cut if sections is not None for section in sections]
    formatter = format_sections or functools.partial(format_batch, worker=worker)
    formatted = iter(formatter(flat))
    return [
        None if sections is None else _joined([next(formatted) for _ in sections])
        for sections in cut
    ]


_PARSE_LOCK = threading.Lock()


def _parsed(source: str) -> ast.Module:
    """`ast.parse(source)`, one thread at a time: CPython 3.11 counts the depth of the trees it
    builds in one place for all threads, so parses at once in threads (notebooks built in
    threads, each formatting its sections) can fail with "AST constructor recursion depth
    mismatch" (CPython gh-106905)."""
    with _PARSE_LOCK:
        return ast.parse(source)


def _joined(sections: Sequence[str]) -> str:
    return join_sections(*sections)


def _sections_of(chunk: str) -> list[str] | None:
    """A chunk's sections; None when it does not parse alone.

    Small chunks are cut too: black runs its second pass over all of a text whenever its first
    leaves a trailing comma before a closing bracket (see `_black`), so in sections it runs
    only over the sections that have one. On typical notebooks' packages (350 lines) that
    made black's share 0.68x to 0.83x of formatting each file whole.
    """
    try:
        body = _parsed(chunk).body
    except SyntaxError:
        return None
    return _cut(chunk, body)


def _pieces(source: str) -> list[str]:
    """A module's sections; one that does not parse, whole (black then says why)."""
    sections = split_sections(source)
    return sections if sections is not None else [source]


def style_key() -> str:
    """What the formatting of a text depends on besides the text and black's version (which
    every cache key holds): black's mode."""
    return f"black line-length {LINE_LENGTH} python {oldest_python()} on"


_CHUNK_START = re.compile(r"\n\n\n(?=(?:async )?def )")


# black's directives to leave code as written (`# fmt: off` ... `# fmt: on`, `# fmt: skip`,
# `# yapf: disable`): a text holding one is formatted whole, as black would see it.
_AS_WRITTEN = re.compile(r"#\s*(?:fmt:\s*(?:off|skip)|yapf:\s*disable)")


def chunks(source: str) -> list[str]:
    """`source` cut, without parsing it, where a def starts a line after two blank lines, as
    the steps and run() of a generated module do; a small module stays whole.

    Every chunk that parses on its own ends outside any string or bracket, so the next one
    starts a statement: when all of them parse, the chunks' sections are the module's.
    """
    if source.count("\n") < SECTION_MIN_LINES or _AS_WRITTEN.search(source):
        return [source]
    cuts = [0, *(match.start() + 3 for match in _CHUNK_START.finditer(source)), len(source)]
    return [source[a:b] for a, b in itertools.pairwise(cuts)]


def _black_module() -> ModuleType:
    """black, imported under a lock: threads building at once must not see it half-made."""
    with _IMPORT_LOCK:
        import black
    return black


@functools.cache
def _mode(black: ModuleType) -> Mode:
    """black's mode for generated code: the line length, and the Python versions the package
    declares. Black run in the package infers those from its `requires-python`; left to guess
    from the code, it keeps `with a() as x, b(...) as y:` and `f(a, **kwargs)` where black for
    Python 3.10 on uses parentheses and a trailing comma, and `black --check` there failed."""
    oldest = black.TargetVersion[f"PY{REQUIRES_PYTHON[0]}{REQUIRES_PYTHON[1]}"]
    versions = {version for version in black.TargetVersion if version.value >= oldest.value}
    mode: Mode = black.Mode(line_length=LINE_LENGTH, target_versions=versions)
    return mode


def _black(source: str) -> str:
    """What black.format_str gives with nb2prod's mode; black's parse errors become ValueError.

    black.format_str runs a second pass whenever the first changed the code, because trailing
    commas the first pass adds become "magic" in the second and can change how lines split.
    Generated code is never formatted already, so through format_str alone every build would
    pay for formatting twice, and formatting is the largest part of a build. When the first
    pass leaves no trailing comma before a closing bracket, the second pass has nothing of
    that kind to act on, so it is skipped. This needs black's single pass, the private
    `_format_str_once`, which black 22 to 26 have (the dependency is bounded below 27; without
    it format_str is used whole). The tests check on every golden case and the benchmark
    notebooks that the result is format_str's, and that formatting it again changes nothing.
    """
    black = _black_module()
    mode = _mode(black)
    once = getattr(black, "_format_str_once", None)
    try:
        if once is None:  # a black without the single pass: take the whole of format_str
            whole: str = black.format_str(source, mode=mode)
            return whole
        first: str = once(source, mode=mode)
        if first == source or not _MAGIC_COMMA.search(first):
            return first
        second: str = once(first, mode=mode)
        return second
    except black.parsing.InvalidInput as exc:
        raise ValueError(str(exc)) from None


def split_sections(source: str) -> list[str] | None:
    """`source` cut before and after each top-level def and class (with the comments right
    above it); None when it does not parse, so that black reports the problem."""
    try:
        body = _parsed(source).body
    except SyntaxError:
        return None
    return _cut(source, body)


def _cut(source: str, body: Sequence[ast.stmt]) -> list[str]:
    if _AS_WRITTEN.search(source):
        return [source]
    lines = source.splitlines(keepends=True)
    cuts = [0]
    for previous, statement in itertools.pairwise(body):
        if _separable(previous) or _separable(statement):
            start = _start_line(statement, previous.end_lineno or 0, lines)
            if start is not None:
                cuts.append(start)
    cuts.append(len(lines))
    return ["".join(lines[a:b]).strip("\n") + "\n" for a, b in itertools.pairwise(cuts)]


def _separable(statement: ast.stmt) -> bool:
    """A def or class that black surrounds with two blank lines whatever the user wrote.

    Functions whose body is only `...` are left joined: black keeps them together as overloads.
    """
    if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    body = statement.body
    stub = len(body) == 1 and isinstance(body[0], ast.Expr)
    return not (stub and isinstance(body[0].value, ast.Constant) and body[0].value.value is ...)  # type: ignore[attr-defined]


def _start_line(statement: ast.stmt, floor: int, lines: Sequence[str]) -> int | None:
    """The 0-based line where `statement` starts with its decorators and the comment lines
    directly above it; None unless a blank line separates it from what comes before."""
    first = min([statement.lineno, *(d.lineno for d in _decorators(statement))]) - 1
    while first > floor and lines[first - 1].startswith("#"):
        first -= 1
    if first <= floor or lines[first - 1].strip():
        return None
    above = first - 1  # a blank line; what stands above the blank lines?
    while above > floor and not lines[above - 1].strip():
        above -= 1
    if above > floor and lines[above - 1].lstrip().startswith("#"):
        return None  # a comment: black keeps the blank lines below it as written, not two
    return first


def _decorators(statement: ast.stmt) -> list[ast.expr]:
    return list(getattr(statement, "decorator_list", []))


class Worker:
    """A second process that imports black while this one analyses the notebook, then takes
    all of the formatting of a small package or half of a large one.

    It starts at once, or with `later` at the first `start()` or `first()`: a run of several
    builds keeps one for all of them. Whoever makes it shuts it down (`with`); `pool` is None
    while it has not started, and for good when it may not (one core, or no process to be
    had)."""

    def __init__(self, enabled: bool = True, *, later: bool = False) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.enabled = enabled and _cores() >= 2
        if not later:
            self.start()

    def start(self) -> None:
        """Start the process, unless it runs already or may not."""
        self.first(None)

    def first(self, task: Callable[[], T] | None) -> Future[T] | None:
        """`task` run in the process, as its first task (before black's import) if it starts
        now; None, and `task` not run, where there is no process."""
        if self.pool is not None:
            return None if task is None else self.pool.submit(task)
        if not self.enabled:
            return None
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=1, mp_context=_context())
        try:
            answer = None if task is None else pool.submit(task)
            pool.submit(_warm)  # starts the process now, not at the first real task
        except OSError:  # no process to be had (a limit reached): this one formats
            self.enabled = False
            pool.shutdown(wait=True)
            return None
        self.pool = pool
        return answer

    def lose(self) -> None:
        """The process died: nothing more goes to it, for this build or any later one."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None
        self.enabled = False

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        # Wait even after a failure: a pool left shutting down races, at interpreter exit,
        # with CPython's exit hook (concurrent.futures.process._python_exit wakes the pool's
        # manager thread through a pipe that thread closes, without a common lock), which
        # printed "Exception ignored in: <module 'threading'> ... OSError" after a refused
        # build. Pending work is cancelled; at most the start-up import of black is waited for.
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


_SHARED: list[bool] = []  # set in a folder build's processes: they share the cores


def share_cores() -> None:
    """Make this process one of a folder build's, one per core: it formats everything itself.

    A second process for its formatting would only compete with the other builds for the
    cores, and pay for starting and for handing texts both ways."""
    _SHARED.append(True)


def _cores() -> int:
    """The cores this process may run on (a container may allow fewer than the machine has);
    one in a folder build's process, whose cores the other builds use."""
    if _SHARED:
        return 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _warm() -> None:
    """Import black, then move what exists out of the collector's sight (`gc.freeze`): its
    passes then only look at what formatting makes. The collector stays on, because black's
    trees are full of cycles: with it off, a worker formatting 20,000 lines reached 350 MB."""
    _black_module()
    gc.freeze()


def format_batch(texts: Sequence[str], worker: Worker | None = None) -> list[str]:
    """Format `texts`: small batches in the worker when there is one, large ones split in two."""
    total = sum(text.count("\n") for text in texts)
    if not texts:
        return []
    if worker is not None and worker.pool is not None:  # the caller's: the caller shuts it down
        from concurrent.futures import BrokenExecutor

        ahead = 0 if "black" in sys.modules else IMPORT_LINES  # it has black loaded, not this one
        try:
            if total < PARALLEL_MIN_LINES:
                return worker.pool.submit(black_each, texts).result()
            return _in_halves(texts, worker.pool, ahead)
        except BrokenExecutor:  # the process died (killed, out of memory): format here instead
            worker.lose()
            return black_each(texts)
    if total < PARALLEL_MIN_LINES or _cores() < 2:
        return black_each(texts)
    with Worker() as helper:
        if helper.pool is None:
            return black_each(texts)
        return _in_halves(texts, helper.pool, 0)


def _in_halves(texts: Sequence[str], pool: ProcessPoolExecutor, ahead: int) -> list[str]:
    """`texts` formatted here and in `pool` at the same time, `pool` taking `ahead` lines more
    than half."""
    mine, theirs = _halves(texts, ahead)
    future: Future[list[str]] = pool.submit(black_each, [texts[i] for i in theirs])
    done = dict(zip(mine, black_each([texts[i] for i in mine]), strict=True))
    done.update(zip(theirs, future.result(), strict=True))
    return [done[i] for i in range(len(texts))]


def black_each(texts: Sequence[str]) -> list[str]:
    """black on each text, checked to parse (run in the worker process too)."""
    formatted = [_black(text) for text in texts]
    for text in formatted:
        _parsed(text)
    return formatted


def _halves(texts: Sequence[str], ahead: int = 0) -> tuple[list[int], list[int]]:
    """Indexes split in two of about the same number of lines, the second `ahead` lines more:
    the longest text first, each to the side with fewer lines so far (one section can hold
    most of a module)."""
    sizes = [text.count("\n") for text in texts]
    sides: tuple[list[int], list[int]] = ([], [])
    loads = [ahead, 0]
    for index in sorted(range(len(texts)), key=lambda i: -sizes[i]):
        side = 0 if loads[0] <= loads[1] else 1
        sides[side].append(index)
        loads[side] += sizes[index]
    return sorted(sides[0]), sorted(sides[1])


def starts_at_once() -> bool:
    """Whether a worker started now forks (see `_context`): one started afresh imports nb2prod
    again, which costs a small notebook's build more than the worker saves it."""
    return _context().get_start_method() == "fork"


def _context() -> BaseContext:
    """fork on Linux when this is the only thread: the worker starts at once, without importing
    nb2prod again. With other threads running (builds in parallel), a forked child could inherit
    a lock one of them held, so the worker starts afresh."""
    import multiprocessing

    alone = threading.active_count() == 1
    return multiprocessing.get_context("fork" if sys.platform == "linux" and alone else "spawn")
