"""The command line: options to Config, paths to results, results to exit codes.

The only module that imports typer; the build itself is imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nb2prod.config import Config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Turn the deploy cells of a Jupyter notebook into an installable, tested package.",
)


@app.callback()
def _root() -> None:
    """Turn the deploy cells of a Jupyter notebook into an installable, tested package."""


@app.command()
def build(
    notebooks: Annotated[
        list[Path], typer.Argument(help="Notebooks to build.", show_default=False)
    ],
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
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Cache folder [default: $NB2PROD_CACHE_DIR, else the user's cache folder].",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the build cache.")
    ] = False,
) -> None:
    """Lift each notebook's deploy cells into a package under --out."""
    from nb2prod.build import Status, build_notebook
    from nb2prod.naming import is_identifier

    if name is not None and len(notebooks) > 1:
        raise typer.BadParameter("--name needs exactly one notebook", param_hint="--name")
    if name is not None and not is_identifier(name):
        raise typer.BadParameter(f"{name!r} is not a Python identifier", param_hint="--name")
    config = Config(
        out=out,
        name=name,
        check=check,
        force=force,
        api=api,
        cache=not no_cache,
        cache_dir=cache_dir,
    )
    failed = 0
    for notebook in notebooks:
        result = build_notebook(notebook, config)
        for line in result.messages:
            typer.echo(line, err=True)
        if result.status is Status.FAILED:
            failed += 1
        elif result.status is Status.STALE:
            failed += 1
            typer.echo(
                f"{notebook.as_posix()}: output is stale; run `nb2prod build` and commit it",
                err=True,
            )
        elif result.dest is not None:
            typer.echo(f"{notebook.as_posix()}: {result.status.value} -> {result.dest.as_posix()}")
    raise typer.Exit(1 if failed else 0)


@app.command()
def verify(
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
        float, typer.Option(min=1, help="Seconds each cell, and run(), may take.")
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
    config = Config(
        overrides=overrides, tolerance=tolerance, timeout=timeout, kernel=kernel, whole=whole
    )
    result = verify_notebook(notebook, config)
    for line in result.messages:
        typer.echo(line, err=True)
    for line in result.report:
        typer.echo(line)
    raise typer.Exit(0 if result.ok else 1)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="nb2prod")


if __name__ == "__main__":
    main()
