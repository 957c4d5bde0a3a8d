"""The serving part of `__main__.py`: `train` and one command per serving function.

`python -m pkg train [--artifacts DIR] [parameter options]` runs train() and prints its manifest;
`python -m pkg predict [--artifacts DIR] [FILE]` loads the artifacts once and reads JSON lines
(each an object of the function's arguments by name) from FILE or stdin, writing one JSON result
per line, under a progress bar when stderr is a terminal. A bad line is one message naming its
line number, after the results of the lines before it.
"""

from __future__ import annotations

from nb2prod.emit.cli_app import option, own_options, traceback_option
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Plan
from nb2prod.lift.serving import ServingFunction
from nb2prod.naming import NameAllocator

IMPORTS = "import contextlib\nimport sys\nfrom collections.abc import Iterable, Iterator\n"
RUNTIME_IMPORTS = (
    "from .pipeline import load\n"
    "from .runtime import ArtifactError, LineError, score_lines, stdout_kept\n"
)
# __main__.py's own module-level names, which no command function may take.
_MODULE_NAMES = frozenset(
    {"app", "main", "run", "train", "load", "NOTEBOOK", "CHAIN", "TEXT_OPTIONS", "typer"}
)


def render(plan: Plan) -> str:
    """The serving commands of __main__.py, before formatting."""
    assert plan.serving is not None
    names = NameAllocator(set(_MODULE_NAMES))
    commands = [_train_command(plan, names.claim("train_command", "cli"))]
    for function in plan.serving.functions:
        commands.append(_function_command(function, names.claim(f"{function.name}_command", "cli")))
    return join_sections(*commands, SERVING)


def _train_command(plan: Plan, name: str) -> str:
    (folder, folder_flag), (trace, trace_flag) = own_options(
        plan.parameters, ("artifacts", "traceback")
    )
    params = "".join(f"    {option(p)},\n" for p in plan.parameters)
    params += (
        f'    {folder}: Path = typer.Option(Path("artifacts"), {literal(folder_flag)}, '
        'metavar="DIR", help="The folder to save the artifacts in; it is replaced whole."),\n'
        + traceback_option(trace, trace_flag)
    )
    given = ", ".join(f"{literal(p.name)}: {p.name}" for p in plan.parameters)
    doc = docstring(
        "Run the pipeline and save what the serving functions read into --artifacts; print "
        "the manifest."
    )
    call = f"_train({{{given}}}, {folder}, {trace})"
    return f'@app.command("train")\ndef {name}(\n{params}) -> None:\n    {doc}\n    {call}\n'


def _function_command(function: ServingFunction, name: str) -> str:
    summary = one_line((function.doc or "").split("\n\n")[0], 200).rstrip(".")
    doc = docstring(
        f"{summary or f'The notebook function {function.name}()'} (notebook cell {function.cell}).",
        f"Reads JSON lines, each an object of {function.name}()'s arguments by name, and "
        "writes one JSON result per line.",
    )
    file_help = literal(f"JSON lines of {function.name}()'s arguments; default: stdin.")
    return f"""@app.command({literal(function.name)})
def {name}(
    file: Optional[Path] = typer.Argument(
        None, metavar="FILE", help={file_help}, show_default=False
    ),
    artifacts: Path = typer.Option(
        Path("artifacts"),
        "--artifacts",
        metavar="DIR",
        envvar="NB2PROD_ARTIFACTS",
        help="The folder train saved the artifacts in.",
    ),
    show_traceback: bool = typer.Option(
        False, "--traceback", help="On a failure, show the whole traceback.", show_default=False
    ),
) -> None:
    {doc}
    _score({literal(function.name)}, file, artifacts, show_traceback)
"""


SERVING = '''
def _train(options: dict[str, Any], folder: Path, show_traceback: bool) -> None:
    """Call train() with the options given; the manifest as JSON on stdout."""
    kwargs = {name: _read(name, value) for name, value in options.items() if value is not None}
    try:
        with stdout_to_stderr():
            manifest = train(folder, **kwargs)
    except ArtifactError as error:
        typer.echo(f"{NOTEBOOK}: {error}", err=True)
        raise typer.Exit(1) from None
    except Exception as error:
        if show_traceback:
            traceback.print_exc()
        typer.echo(_failure(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(dumps(manifest))


def _score(name: str, file: Optional[Path], folder: Path, show_traceback: bool) -> None:
    """Score JSON lines from `file` (or stdin) with the serving function `name`, bound once to
    the artifacts in `folder`; one JSON result per line on stdout."""
    try:
        function = getattr(load(folder), name)
    except ArtifactError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    source = "stdin" if file is None else str(file)
    try:
        with _lines(file) as lines, stdout_kept() as out, stdout_to_stderr():
            score_lines(function, lines, lambda text: print(text, file=out, flush=True))
    except LineError as error:
        if show_traceback and error.__cause__ is not None:
            traceback.print_exception(error.__cause__)
        typer.echo(f"{source}: {error}", err=True)
        raise typer.Exit(1) from None
    except OSError as error:
        typer.echo(f"{source}: cannot read it: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None


@contextlib.contextmanager
def _lines(file: Optional[Path]) -> Iterator[Iterable[str]]:
    """The lines of `file` or stdin, under a progress bar when stderr is a terminal."""
    with contextlib.ExitStack() as stack:
        stream = sys.stdin if file is None else stack.enter_context(file.open(encoding="utf-8"))
        if not sys.stderr.isatty():
            yield stream
            return
        length = None
        if file is not None:
            with file.open(encoding="utf-8") as counted:
                length = sum(1 for _ in counted)
        bar = typer.progressbar(stream, length=length, label="scoring", file=sys.stderr)
        yield stack.enter_context(bar)
'''
