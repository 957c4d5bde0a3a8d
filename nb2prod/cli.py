"""The command line: options to typed option values, paths to results, results to exit codes.

The only module that imports typer; the build itself is imported when a command runs.
`[tool.nb2prod]` in pyproject.toml gives the options' defaults (typer's `default_map`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nb2prod.options import BuildOptions, RunOptions, VerifyOptions

if TYPE_CHECKING:
    from nb2prod.lint import LintRules
    from nb2prod.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help texts are rich markup: a bracket that is text is written "\\[" in the source.
    rich_markup_mode="rich",
    help="Turn the deploy cells of a Jupyter notebook into an installable, tested package.",
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Turn the deploy cells of a Jupyter notebook into an installable, tested package."""
    if ctx.invoked_subcommand in {"build", "lint", "verify"}:
        settings = _settings()
        # The options' defaults for the command about to run; the command line wins over them.
        ctx.default_map = settings.default_map()
        ctx.obj = settings


@app.command()
def build(
    ctx: typer.Context,
    notebooks: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Notebooks, or folders to search for notebooks named *deploy*; "
            "default: `notebooks` in \\[tool.nb2prod].",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder that receives the packages.")
    ] = Path("build"),
    name: Annotated[str | None, typer.Option(help="Package name (one notebook only).")] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the output is missing or stale."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite files edited by hand or not written by nb2prod."),
    ] = False,
    api: Annotated[bool, typer.Option("--api", help="Also generate a FastAPI app.")] = False,
    airflow: Annotated[
        bool,
        typer.Option("--airflow", help="Also generate an Airflow DAG with one task per step."),
    ] = False,
    api_parameters: Annotated[
        list[str] | None,
        typer.Option(
            "--api-parameter",
            metavar="NAME",
            help="With --api, let requests set this parameter although its default is a path "
            "(repeat for several).",
            show_default=False,
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Cache folder \\[default: $NB2PROD_CACHE_DIR, else the user's cache folder].",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the build cache.")
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Build in this many parallel processes.")
    ] = 1,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only problems and the summary.")
    ] = False,
    lower_bounds: Annotated[
        str | None,
        typer.Option(
            "--lower-bounds",
            help="Dependency lower bounds from a pinned requirements file, or `installed`.",
        ),
    ] = None,
    marks: Annotated[
        list[str] | None,
        typer.Option(
            "--marks",
            help="Read the cell marks of this tool: nb2prod, kale or nbdev (repeat the option "
            "for several) [default: all three].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Lift each notebook's deploy cells into a package under --out."""
    named = notebooks or []
    dialects = _dialects(marks)
    found = _notebooks(named)
    if name is not None and len(found) > 1:
        raise typer.BadParameter("--name needs exactly one notebook", param_hint="--name")
    if name is not None and not _is_identifier(name):
        raise typer.BadParameter(f"{name!r} is not a Python identifier", param_hint="--name")
    _check_usage(out, lower_bounds)
    root = _project(ctx).root
    options = BuildOptions(
        out=out,
        name=name,
        api=api,
        airflow=airflow,
        api_parameters=tuple(dict.fromkeys(api_parameters or ())),
        lower_bounds=lower_bounds,
        marks=dialects,
        root=(root or Path()).resolve(),
    )
    run = RunOptions(
        check=check,
        force=force,
        jobs=jobs,
        quiet=quiet,
        cache=not no_cache,
        cache_dir=cache_dir,
    )
    # One notebook named as a file reports in one line; a folder or several end with a summary.
    many = len(found) > 1 or any(found != [Path(p)] for p in named)
    code = _run_builds(found, options, run, summarise=many)
    _finished.append(code)
    raise typer.Exit(code)


def _check_usage(out: Path, lower_bounds: str | None) -> None:
    """Refuse, once and before any notebook, options that no build could use: exit 2."""
    from nb2prod.errors import NotebookError
    from nb2prod.output.writer import check_destination
    from nb2prod.versions import INSTALLED
    from nb2prod.versions import lower_bounds as read_bounds

    try:
        check_destination(out)
    except NotebookError as exc:
        raise typer.BadParameter(exc.diagnostic.message, param_hint="--out") from None
    if lower_bounds is not None and lower_bounds != INSTALLED:
        try:
            read_bounds(lower_bounds)
        except NotebookError as exc:
            raise typer.BadParameter(exc.diagnostic.message, param_hint="--lower-bounds") from None


# The exit code of a build that ran to its end: main() ends the process at once after a success.
_finished: list[int] = []


def _project(ctx: typer.Context) -> Settings:
    """The settings the callback read for this command."""
    from nb2prod.settings import Settings

    found = ctx.find_object(Settings)
    return found if found is not None else Settings()


def _dialects(marks: list[str] | None) -> tuple[str, ...]:
    """The mark dialects named, each once and in the known order; all of them when none is."""
    from nb2prod.notebook import DIALECTS

    if not marks:
        return DIALECTS
    named = {part.strip().lower() for text in marks for part in text.split(",") if part.strip()}
    unknown = sorted(named - set(DIALECTS))
    if unknown:
        raise typer.BadParameter(
            f"unknown dialect {unknown[0]!r}; use {', '.join(DIALECTS)}", param_hint="--marks"
        )
    return tuple(dialect for dialect in DIALECTS if dialect in named)


def _is_identifier(name: str) -> bool:
    from nb2prod.naming import is_identifier

    return is_identifier(name)


def _settings() -> Settings:
    from nb2prod.settings import SettingsError, load_settings

    try:
        return load_settings(Path.cwd())
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _notebooks(paths: list[Path]) -> list[Path]:
    """The notebooks to build: named ones, and those named *deploy* under named folders."""
    from nb2prod.discovery import find_notebooks

    if not paths:
        raise typer.BadParameter(
            "name notebooks or folders, or set `notebooks` in [tool.nb2prod] of pyproject.toml",
            param_hint="NOTEBOOKS",
        )
    found = find_notebooks(paths)
    if not found:
        shown = ", ".join(Path(p).as_posix() for p in paths)
        typer.echo(f"{shown}: no notebook whose file name contains 'deploy'", err=True)
        raise typer.Exit(1)
    return found


def _run_builds(
    notebooks: list[Path], options: BuildOptions, run: RunOptions, *, summarise: bool
) -> int:
    """Build every notebook, report as each ends, end with a summary; the exit code."""
    from nb2prod.batch import build_all, clashes, summary
    from nb2prod.progress import is_terminal, reporting

    problems = clashes(notebooks, options)
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        return 1
    with reporting(len(notebooks), quiet=run.quiet, fancy=is_terminal()) as report:
        results = build_all(notebooks, options, run, on_result=report)
    if summarise:
        typer.echo(summary(results))
    return 0 if all(result.ok for result in results) else 1


@app.command()
def lint(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Notebooks or folders to check; default: `notebooks` in \\[tool.nb2prod].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check notebook names and the dates in the data file names they read and write."""
    from nb2prod.lint import lint_paths

    targets = paths
    if not targets:
        raise typer.BadParameter(
            "name notebooks or folders, or set `notebooks` in [tool.nb2prod] of pyproject.toml",
            param_hint="PATHS",
        )
    findings = lint_paths(targets, _lint_rules(ctx))
    for line in findings:
        typer.echo(line)
    raise typer.Exit(1 if findings else 0)


@app.command()
def verify(
    ctx: typer.Context,
    notebook: Annotated[Path, typer.Argument(help="Notebook to verify.", show_default=False)],
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            metavar="NAME=VALUE",
            help="Override a parameter (VALUE as a Python literal or JSON, else text).",
        ),
    ] = None,
    tolerance: Annotated[
        float, typer.Option(min=0, help="Relative and absolute tolerance for floats.")
    ] = 1e-9,
    timeout: Annotated[
        float,
        typer.Option(
            min=1,
            help="Seconds each cell may take in the kernel; run() that for each of its cells.",
        ),
    ] = 600.0,
    kernel: Annotated[
        str | None, typer.Option(help="Kernel to run in (default: the notebook's, else python3).")
    ] = None,
    whole: Annotated[
        bool, typer.Option("--whole", help="Also run every cell and compare that result.")
    ] = False,
) -> None:
    """Run the notebook's cells in a Jupyter kernel and the generated run(); compare results."""
    from nb2prod.verify import parse_override, verify_notebook

    try:
        overrides = tuple(parse_override(text) for text in parameter or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="-p") from None
    marks = _project(ctx).defaults.get("marks")
    options = VerifyOptions(
        overrides=overrides,
        tolerance=tolerance,
        timeout=timeout,
        kernel=kernel,
        whole=whole,
        marks=_dialects(marks),
    )
    result = verify_notebook(notebook, options)
    for line in result.messages:
        typer.echo(line, err=True)
    for line in result.report:
        typer.echo(line)
    raise typer.Exit(2 if result.usage_error else 0 if result.ok else 1)


def _lint_rules(ctx: typer.Context) -> LintRules:
    return _project(ctx).lint


def main() -> None:
    """Console-script entry point.

    Once a build has succeeded and its output is flushed, the process ends at once, as mypy's
    does: freeing one by one the objects of a large notebook's build took about 7% of it. Every
    file the build wrote is closed by then, and its worker processes have ended (after a
    failure one may still be starting, so the process ends as usual and waits for it).
    """
    try:
        app(prog_name="nb2prod")
    except SystemExit:
        if _finished != [0]:
            raise
        _end_now()


def _end_now() -> None:
    import contextlib
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
