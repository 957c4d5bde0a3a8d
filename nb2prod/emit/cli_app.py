"""`__main__.py`: a typer command with one option per parameter, printing run()'s result."""

from __future__ import annotations

from nb2prod.emit import Target
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Kind, Parameter, Plan

_SIMPLE = {"int", "float", "str", "bool"}


def render(plan: Plan, target: Target) -> str:
    """The source of `<package>/__main__.py`, before formatting."""
    module_doc = docstring(f"Command line for the pipeline of {target.source}.")
    imports = (
        "import json\n"
        + (
            "from pathlib import Path\n"
            if any(option_kind(p) == "Path" for p in plan.parameters)
            else ""
        )
        + "from typing import Any, Optional\n\nimport typer\n\n"
        "from .pipeline import run\n"
    )
    app = f"app = typer.Typer(add_completion=False, help={literal(_help(target))})\n"
    return join_sections(
        module_doc, imports, app, _command(plan), RENDER, "if __name__ == '__main__':\n    app()\n"
    )


def _help(target: Target) -> str:
    return f"Run the pipeline lifted from {one_line(target.source)} and print its result."


def _command(plan: Plan) -> str:
    params = "".join(f"    {_option(p)},\n" for p in plan.parameters)
    given = ", ".join(f"{literal(p.name)}: {p.name}" for p in plan.parameters)
    by_kind = [p.name for p in plan.parameters if option_kind(p) == "json"]
    doc = '"""Run the pipeline with the notebook\'s parameters, overridden by the options."""'
    return (
        f"JSON_OPTIONS = frozenset({repr(tuple(by_kind)) if by_kind else ''})\n\n\n"
        f"@app.command()\ndef main(\n{params}) -> None:\n    {doc}\n    _execute({{{given}}})\n"
    )


def option_kind(parameter: Parameter) -> str:
    """How the CLI takes a parameter: a simple type, a path, a repeated option, or JSON text."""
    kind = parameter.kind
    if kind is Kind.PATH:
        return "Path"
    if kind in {Kind.INT, Kind.FLOAT, Kind.STR, Kind.BOOL}:
        return kind.value
    if kind is Kind.LIST and parameter.item in {"int", "float", "str"}:
        return f"list[{parameter.item}]"
    return "json"


def _option(parameter: Parameter) -> str:
    kind = option_kind(parameter)
    default = one_line(parameter.default, 60)
    help_text = literal(f"From notebook cell {parameter.cell}.")
    if kind in _SIMPLE:
        return f"{parameter.name}: {kind} = typer.Option({parameter.default}, help={help_text})"
    if kind == "json":
        help_text = literal(f"JSON value; default from notebook cell {parameter.cell}: {default}")
        return f"{parameter.name}: Optional[str] = typer.Option(None, help={help_text})"
    return f"{parameter.name}: Optional[{kind}] = typer.Option(None, help={help_text})"


RENDER = '''
def _execute(options: dict[str, Any]) -> None:
    """Call run() with the options given, leaving out repeated options not used."""
    kwargs: dict[str, Any] = {}
    for name, value in options.items():
        if name in JSON_OPTIONS:
            if value is not None:
                kwargs[name] = _parse(value)
        elif isinstance(value, (list, tuple)):
            if value:
                kwargs[name] = list(value)
        else:
            kwargs[name] = value
    typer.echo(_render(run(**kwargs)))


def _parse(text: str) -> Any:
    """An option given as JSON, or as plain text when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _render(result: Any) -> str:
    """The result as JSON when it serialises, else its repr."""
    try:
        return json.dumps(result)
    except (TypeError, ValueError):
        return repr(result)
'''
