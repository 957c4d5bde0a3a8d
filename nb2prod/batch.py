"""Build many notebooks: in order or in parallel processes, each failure kept to its notebook."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from nb2prod.build import BuildResult, Status, build_notebook
from nb2prod.options import BuildOptions, RunOptions


def build_all(
    notebooks: Sequence[Path],
    options: BuildOptions,
    run: RunOptions | None = None,
    *,
    on_result: Callable[[BuildResult], None] = lambda result: None,
) -> list[BuildResult]:
    """Build each notebook, calling `on_result` as each ends; results in the notebooks' order.

    With `run.jobs` above 1, notebooks build in that many processes.
    """
    run = run or RunOptions()
    if run.jobs <= 1 or len(notebooks) <= 1:
        return _in_order(notebooks, options, run, on_result)
    return _in_processes(notebooks, options, run, on_result)


def _in_order(
    notebooks: Sequence[Path],
    options: BuildOptions,
    run: RunOptions,
    on_result: Callable[[BuildResult], None],
) -> list[BuildResult]:
    """One build after another in this process, with one formatting process for all of them,
    started at the first build the cache cannot answer (where it can fork: see `generate`)."""
    from nb2prod.output.formatting import Worker, starts_at_once

    results = []
    with Worker(enabled=starts_at_once(), later=True) as worker:
        for notebook in notebooks:
            results.append(build_notebook(notebook, options, run, worker))
            on_result(results[-1])
    return results


def _in_processes(
    notebooks: Sequence[Path],
    options: BuildOptions,
    run: RunOptions,
    on_result: Callable[[BuildResult], None],
) -> list[BuildResult]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: the parent may run a progress thread, and forked locks can hang.
    context = multiprocessing.get_context("spawn")
    done: dict[Path, BuildResult] = {}
    jobs = min(run.jobs, len(notebooks))
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_one_per_core
    ) as pool:
        futures = {pool.submit(build_notebook, path, options, run): path for path in notebooks}
        for future in as_completed(futures):
            path = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # a worker that died must not stop the other notebooks
                message = f"{path.as_posix()}: the build process failed ({type(exc).__name__})"
                result = BuildResult(path, Status.FAILED, messages=(message,))
            done[path] = result
            on_result(result)
    return [done[path] for path in notebooks]


def _one_per_core() -> None:
    """Set up a build process of the pool: it lives for the whole folder, so black, libcst and
    nb2prod are imported once per process; it formats its notebooks itself, and a section once."""
    from nb2prod.build import remember_formatting
    from nb2prod.output.formatting import share_cores

    share_cores()
    remember_formatting()


def clashes(notebooks: Sequence[Path], options: BuildOptions) -> list[str]:
    """One message per package folder that two notebooks would both build into."""
    from nb2prod.naming import package_name

    owners: dict[str, Path] = {}
    messages = []
    for notebook in notebooks:
        package = options.name or package_name(notebook.stem)
        first = owners.setdefault(package, notebook)
        if first != notebook:
            messages.append(
                f"{notebook.as_posix()}: builds into the same package {package!r} as "
                f"{first.as_posix()}; rename one of the notebooks"
            )
    return messages


def summary(results: Sequence[BuildResult]) -> str:
    """One line counting the notebooks by how their builds ended."""
    counts = Counter(result.status for result in results)
    total = len(results)
    parts = [f"{counts[status]} {status.value}" for status in Status if counts[status]]
    noun = "notebook" if total == 1 else "notebooks"
    return f"{total} {noun}: {', '.join(parts) or 'nothing to do'}"
