"""How a build run reports: a rich progress bar on a terminal, plain lines otherwise.

The only module that imports rich, and only when a terminal is there to draw on.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from nb2prod.build import BuildResult, Status


class Report(Protocol):
    """Receives each notebook's result as it ends."""

    def __call__(self, result: BuildResult) -> None: ...


def result_lines(result: BuildResult) -> list[tuple[str, bool]]:
    """The lines to show for one result, each with whether it belongs on stderr."""
    shown = result.notebook.as_posix()
    lines = [(line, True) for line in result.messages]
    lines += [(line, False) for line in result.notes]
    if result.status is Status.STALE:
        lines.append((f"{shown}: output is stale; run `nb2prod build` and commit it", True))
    elif result.ok and result.dest is not None:
        lines.append((f"{shown}: {result.status.value} -> {result.dest.as_posix()}", False))
    return lines


def is_terminal() -> bool:
    """Whether both output streams are a terminal (not CI, not a pipe, not closed: a stream
    whose descriptor was closed when Python started is None)."""
    streams = (sys.stdout, sys.stderr)
    return all(stream is not None and stream.isatty() for stream in streams)


@contextmanager
def reporting(total: int, *, quiet: bool, fancy: bool) -> Iterator[Report]:
    """A report for `total` notebooks: quiet shows only problems; fancy draws a progress bar,
    for more than one notebook (its drawing thread would keep a build from forking its
    formatting process, see `build.generate`)."""
    if fancy and not quiet and total > 1:
        with _rich_report(total) as report:
            yield report
        return

    def plain(result: BuildResult) -> None:
        for line, err in result_lines(result):
            if err or not quiet:
                print(line, file=sys.stderr if err else sys.stdout, flush=True)

    yield plain


@contextmanager
def _rich_report(total: int) -> Iterator[Report]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    columns = (TextColumn("building"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("build", total=total)

        def fancy(result: BuildResult) -> None:
            for line, _ in result_lines(result):
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            progress.advance(task)

        yield fancy
