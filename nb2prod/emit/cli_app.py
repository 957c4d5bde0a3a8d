"""`__main__.py`: a typer command with one option per parameter, printing run()'s result.

stdout holds only the result, one JSON document (the runtime's conversion, as the web API
gives it); what the pipeline prints goes to stderr. A failure inside run() is one line naming
the notebook cell it happened in, found from the `# cell N` markers of pipeline.py. With serve
cells the command is `run`, beside `train` and one per serving function (`serving_cli`).
"""

from __future__ import annotations

from collections.abc import Sequence

from nb2prod.emit import Target
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Kind, Parameter, Plan
from nb2prod.naming import NameAllocator

_SIMPLE = {"int", "float", "str", "bool"}
_CONTAINERS = {Kind.LIST: "list", Kind.TUPLE: "tuple", Kind.SET: "set", Kind.DICT: "dict"}
# The command's own options, besides one per parameter.
_OWN_FLAGS = ("output", "traceback")


def render(plan: Plan, target: Target) -> str:
    """The source of `<package>/__main__.py`, before formatting."""
    from nb2prod.emit import serving_cli

    module_doc = docstring(f"Command line for the pipeline of {target.source}.")
    runners = _runners(plan)
    imports = (
        "import traceback\nfrom pathlib import Path\nfrom typing import Any, Optional\n\n"
        "import typer\n\n"
        f"from .pipeline import {', '.join(sorted(runners))}\n"
        "from .runtime import dumps, failure_cell, parse_text, stdout_to_stderr\n"
    )
    if plan.serving is not None:
        imports = serving_cli.IMPORTS + imports + serving_cli.RUNTIME_IMPORTS
    commands = "no_args_is_help=True, " if plan.serving is not None else ""
    app = (
        f"app = typer.Typer(add_completion=False, rich_markup_mode=None, "
        f"pretty_exceptions_enable=False, {commands}help={literal(_help(plan, target))})\n"
    )
    constants = (
        f"NOTEBOOK = {literal(one_line(target.source, 200))}\n"
        "# The functions of pipeline.py that chain the steps: a failure there is in no cell.\n"
        f"CHAIN = ({', '.join(f'{name}.__code__' for name in runners)},)\n"
        "# How options given as text are read: the container each must be and the type of its\n"
        "# items (None: any value).\n"
        f"TEXT_OPTIONS: dict[str, tuple[Optional[type], Optional[type]]] = {_text_options(plan)}\n"
    )
    return join_sections(
        module_doc,
        imports,
        app,
        constants,
        _command(plan),
        RUNNING,
        serving_cli.render(plan) if plan.serving is not None else "",
        "if __name__ == '__main__':\n    app()\n",
    )


def _runners(plan: Plan) -> list[str]:
    """The functions of pipeline.py that chain the steps."""
    runners = ["run", plan.run_async_name] if plan.is_async else ["run"]
    if plan.serving is not None:
        runners += ["train", plan.serving.names.chain] if plan.is_async else ["train"]
    return runners


def _help(plan: Plan, target: Target) -> str:
    source = one_line(target.source)
    if plan.serving is not None:
        return (
            f"The pipeline lifted from {source}: run it, train it, or score JSON lines with "
            "a serving function."
        )
    return f"Run the pipeline lifted from {source} and print its result as JSON."


def option_kind(parameter: Parameter) -> str:
    """How the CLI takes a parameter: a simple type, a path, or text read as JSON or a Python
    literal (containers, None and computed defaults)."""
    kind = parameter.kind
    if kind is Kind.PATH:
        return "Path"
    if kind in {Kind.INT, Kind.FLOAT, Kind.STR, Kind.BOOL}:
        return kind.value
    return "text"


def _text_options(plan: Plan) -> str:
    """Each text option's container and item type, as the generated code spells them."""
    entries = []
    for p in plan.parameters:
        if option_kind(p) != "text":
            continue
        entries.append(f"{literal(p.name)}: ({_CONTAINERS.get(p.kind, 'None')}, {p.item})")
    return "{" + ", ".join(entries) + "}"


def traceback_option(name: str, flag: str) -> str:
    """A command's `--traceback` flag, as a line of its parameters."""
    return (
        f"    {name}: bool = typer.Option(False, {literal(flag)}, "
        'help="On a failure, show the whole traceback.", show_default=False),\n'
    )


def _command(plan: Plan) -> str:
    (output, output_flag), (trace, trace_flag) = own_options(plan.parameters)
    params = "".join(f"    {option(p)},\n" for p in plan.parameters)
    params += (
        f"    {output}: Optional[Path] = typer.Option(None, {literal(output_flag)}, "
        'metavar="FILE", help="Write the JSON result to FILE instead of stdout."),\n'
        + traceback_option(trace, trace_flag)
    )
    given = ", ".join(f"{literal(p.name)}: {p.name}" for p in plan.parameters)
    doc = '"""Run the pipeline with the notebook\'s parameters, overridden by the options."""'
    call = f"_execute({{{given}}}, {output}, {trace})"
    named = '"run"' if plan.serving is not None else ""
    return f"@app.command({named})\ndef main(\n{params}) -> None:\n    {doc}\n    {call}\n"


def own_options(
    parameters: Sequence[Parameter], own: Sequence[str] = _OWN_FLAGS
) -> list[tuple[str, str]]:
    """The Python name and flag of each of the command's own options (`--output`,
    `--traceback`), clear of the parameters'.

    A parameter keeps its own flag; the command's option then gets an `--nb2prod-` prefix.
    """
    names = NameAllocator({p.name for p in parameters})
    flags = {p.name.replace("_", "-") for p in parameters}
    return [
        (
            names.claim(f"{flag}_option", "cli"),
            f"--nb2prod-{flag}" if flag in flags else f"--{flag}",
        )
        for flag in own
    ]


def option(parameter: Parameter) -> str:
    """The typer parameter of the command for one of run()'s parameters."""
    kind = option_kind(parameter)
    where = f"From notebook cell {parameter.cell}"
    if kind in _SIMPLE:
        help_text = literal(f"{where}.")
        return f"{parameter.name}: {kind} = typer.Option({parameter.default}, help={help_text})"
    default = one_line(parameter.default, 60)
    if parameter.kind is Kind.COMPUTED:
        default += " (computed as the notebook does)"
    if kind == "Path":
        help_text = f"{where}.  [default: {default}]"
    else:
        help_text = f"{where}; JSON or a Python literal.  [default: {default}]"
    return (
        f"{parameter.name}: Optional[{'Path' if kind == 'Path' else 'str'}] = "
        f"typer.Option(None, help={literal(help_text)}, show_default=False)"
    )


RUNNING = '''
def _execute(options: dict[str, Any], output: Optional[Path], show_traceback: bool) -> None:
    """Call run() with the options given; its result as JSON on stdout, or in `output`."""
    kwargs = {name: _read(name, value) for name, value in options.items() if value is not None}
    try:
        with stdout_to_stderr():
            result = run(**kwargs)
    except Exception as error:
        if show_traceback:
            traceback.print_exc()
        typer.echo(_failure(error), err=True)
        raise typer.Exit(1) from None
    text = dumps(result)
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text + "\\n", encoding="utf-8")
    except OSError as error:
        typer.echo(f"{output}: cannot write the result: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None


def _read(name: str, value: Any) -> Any:
    """An option given as text, read as users type it: JSON or a Python literal."""
    if name not in TEXT_OPTIONS:
        return value
    try:
        return parse_text(value, *TEXT_OPTIONS[name])
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--" + name.replace("_", "-")) from None


def _failure(error: Exception) -> str:
    """A failure in run() as one line: the notebook cell it happened in, and the exception."""
    cell = failure_cell(error, CHAIN[0].co_filename, CHAIN)
    where = NOTEBOOK if cell is None else f"{NOTEBOOK}: cell {cell}"
    message = " ".join(str(error).split())[:500]
    what = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return f"{where}: {what} (--traceback shows where)"
'''
