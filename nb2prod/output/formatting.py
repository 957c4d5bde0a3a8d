"""Format generated Python with black and check that it parses (the only black import).

Black's cost grows faster than the size of the code, so a large module is cut into sections at
its top-level functions and classes, each section is formatted on its own (the two cores share
the work when there is enough of it, and a cache keeps each section's result between builds),
and the sections are joined with the two blank lines black puts around top-level definitions.
A rebuild finds the formatted chunks between steps in the cache without parsing the module.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from nb2prod.caching.store import Cache, NoCache, key
from nb2prod.errors import NotebookError

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.context import BaseContext

LINE_LENGTH = 88
SECTION_MIN_LINES = 200  # below this, one call to black is as fast as sections
_IMPORT_LOCK = threading.Lock()
_MAGIC_COMMA = re.compile(r",[ \t]*(?:#[^\n]*)?\n[ \t]*[)\]}]")  # a comma ending a bracketed run
PARALLEL_MIN_LINES = 600  # below this, starting a second process costs more than it saves


def format_python(source: str, *, check_stable: bool = False, cache: Cache | None = None) -> str:
    """black-format generated code; raise NotebookError if nb2prod generated invalid code."""
    return format_files({"module.py": source}, check_stable=check_stable, cache=cache)["module.py"]


def format_files(
    files: dict[str, str],
    *,
    check_stable: bool = False,
    cache: Cache | None = None,
    worker: Worker | None = None,
) -> dict[str, str]:
    """Every `.py` file formatted, other files as they are; the sections of all files are
    formatted in one batch so that the second process gets its share of the work."""
    cache = cache or NoCache()
    units = {path: _units(text, cache) for path, text in files.items() if path.endswith(".py")}
    flat = [piece for parts in units.values() for unit in parts for piece in unit.pieces]
    result = dict(files)
    try:
        formatted = iter(format_sections(flat, cache, worker))
        for path, parts in units.items():
            result[path] = join_sections([unit.formatted(formatted, cache) for unit in parts])
            _check(result[path], check_stable)
    except (SyntaxError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookError(
            f"nb2prod generated code it cannot format ({first}); this is a bug in nb2prod, "
            "please report it with the notebook"
        ) from None
    return result


@dataclass
class _Unit:
    """Part of a file formatted as a whole: known from the cache, or cut into `pieces`.

    `entry` is the cache key of a chunk of a large module, whose formatted text is kept.
    """

    pieces: list[str]
    known: str | None = None
    entry: str | None = None

    def formatted(self, done: Iterator[str], cache: Cache) -> str:
        """The unit formatted, its pieces taken in order from `done`."""
        if self.known is None:
            self.known = join_sections([next(done) for _ in self.pieces])
            if self.entry is not None:
                cache.put(_CHUNK, self.entry, self.known.encode("utf-8"))
        return self.known


_CHUNK = "chunk"


def _units(source: str, cache: Cache) -> list[_Unit]:
    """A small module as one piece; a large one in chunks (each known, or cut into sections).

    Cutting a large module into sections parses it whole, which costs as much as formatting a
    changed step: so it is cut first, without parsing, before each step and run(), and only the
    chunks not seen before are parsed and cut further. The sections are the same either way.
    """
    if source.count("\n") < SECTION_MIN_LINES:
        return [_Unit([source])]
    units = []
    for chunk in chunks(source):
        entry = key(_CHUNK, _black_version(), str(LINE_LENGTH), chunk)
        known = _cached(cache, _CHUNK, entry)
        if known is not None:
            units.append(_Unit([], known))
            continue
        sections = split_sections(chunk)
        if sections is None:  # a cut inside a string, or code black will refuse: cut it whole
            return [_Unit(_pieces(source))]
        units.append(_Unit(sections, entry=entry))
    return units


def _pieces(source: str) -> list[str]:
    """A module's sections; one that does not parse, whole."""
    sections = split_sections(source)
    return sections if sections is not None else [source]


_CHUNK_START = re.compile(r"\n\n\n(?=(?:async )?def )")


def chunks(source: str) -> list[str]:
    """`source` cut, without parsing it, where a def starts a line after two blank lines, as
    the steps and run() of a generated module do.

    Every chunk that parses on its own ends outside any string or bracket, so the next one
    starts a statement: when all of them parse, the chunks' sections are the module's.
    """
    cuts = [0, *(match.start() + 3 for match in _CHUNK_START.finditer(source)), len(source)]
    return [source[a:b] for a, b in itertools.pairwise(cuts)]


def _check(formatted: str, check_stable: bool) -> None:
    """When asked, black leaves the output as it is (each section was parsed when formatted)."""
    if check_stable and _black(formatted) != formatted:
        raise ValueError("formatting it twice changed it")


def _black_module() -> ModuleType:
    """black, imported under a lock: threads building at once must not see it half-made."""
    with _IMPORT_LOCK:
        import black
    return black


def _black(source: str) -> str:
    """What black.format_str gives with nb2prod's mode; black's parse errors become ValueError.

    black.format_str runs a second pass whenever the first changed the code, because trailing
    commas the first pass adds become "magic" in the second and can change how lines split.
    When the first pass leaves no trailing comma before a closing bracket, the second pass has
    nothing of that kind to act on, so it is skipped: it would cost as much as the first.
    """
    black = _black_module()
    mode = black.Mode(line_length=LINE_LENGTH)
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
        body = ast.parse(source).body
    except SyntaxError:
        return None
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
    return first


def _decorators(statement: ast.stmt) -> list[ast.expr]:
    return list(getattr(statement, "decorator_list", []))


def join_sections(sections: Sequence[str]) -> str:
    """Formatted sections joined by the two blank lines black keeps around definitions."""
    return "\n\n".join(section for section in sections if section.strip())


def format_sections(
    sections: Sequence[str], cache: Cache, worker: Worker | None = None
) -> list[str]:
    """Each section black-formatted: from the cache, else here and in a second process."""
    keys = [_section_key(section) for section in sections]
    results: list[str | None] = [_cached(cache, "black", k) for k in keys]
    missing = [i for i, found in enumerate(results) if found is None]
    texts = [sections[i] for i in missing]
    for i, formatted in zip(missing, _format_batches(texts, worker), strict=True):
        results[i] = formatted
        cache.put("black", keys[i], formatted.encode("utf-8"))
    return [r for r in results if r is not None]


class Worker:
    """A second process that imports black while this one analyses the notebook, then takes
    all of the formatting of a small package or half of a large one."""

    def __init__(self, enabled: bool = True) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if enabled and _cores() >= 2:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=_context())
            self.pool.submit(_warm)  # starts the process now, not at the first real task

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=exc[0] is None, cancel_futures=True)


def _cores() -> int:
    """The cores this process may run on (a container may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _warm() -> None:
    gc.disable()  # the worker is short-lived and black makes few cycles: collecting only costs
    _black_module()


@functools.cache
def _black_version() -> str:
    from importlib.metadata import version

    return version("black")


def _section_key(section: str) -> str:
    return key("black", _black_version(), str(LINE_LENGTH), section)


def _cached(cache: Cache, kind: str, entry: str) -> str | None:
    payload = cache.get(kind, entry)
    if payload is None:
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _format_batches(texts: list[str], worker: Worker | None) -> list[str]:
    """Format `texts`: small batches in the worker when there is one, large ones split in two."""
    total = sum(text.count("\n") for text in texts)
    if not texts:
        return []
    if worker is not None and worker.pool is not None and total < PARALLEL_MIN_LINES:
        return worker.pool.submit(format_batch, texts).result()
    if total < PARALLEL_MIN_LINES or _cores() < 2:
        return format_batch(texts)
    with worker if worker is not None and worker.pool is not None else Worker() as helper:
        assert helper.pool is not None
        mine, theirs = _halves(texts)
        future: Future[list[str]] = helper.pool.submit(format_batch, [texts[i] for i in theirs])
        done = dict(zip(mine, format_batch([texts[i] for i in mine]), strict=True))
        done.update(zip(theirs, future.result(), strict=True))
    return [done[i] for i in range(len(texts))]


def format_batch(texts: Sequence[str]) -> list[str]:
    """black on each text, checked to parse (run in the worker process too)."""
    formatted = [_black(text) for text in texts]
    for text in formatted:
        ast.parse(text)
    return formatted


def _halves(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indexes split into two runs of about the same number of lines."""
    total = sum(text.count("\n") for text in texts)
    running = 0
    for index, text in enumerate(texts):
        running += text.count("\n")
        if running * 2 >= total:
            return list(range(index + 1)), list(range(index + 1, len(texts)))
    return list(range(len(texts))), []


def _context() -> BaseContext:
    """fork on Linux when this is the only thread: the worker starts at once, without importing
    nb2prod again. With other threads running (builds in parallel), a forked child could inherit
    a lock one of them held, so the worker starts afresh."""
    import multiprocessing

    alone = threading.active_count() == 1
    return multiprocessing.get_context("fork" if sys.platform == "linux" and alone else "spawn")
