"""`<package>/api.py` (with --api): a FastAPI app serving run() as `POST /run`, and `/health`.

A parameter whose default names a place on disk is no field of the request unless the project
allows it by name (`api_parameters`): a client never chooses which file the server reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nb2prod.emit import Target
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import Diagnostic, one_line, warning
from nb2prod.lift import Kind, Parameter, Plan
from nb2prod.naming import NameAllocator

# Types pydantic validates strictly from a JSON body; any other default is taken as any JSON.
_JSON_TYPES = frozenset({"int", "float", "str", "bool", "list", "dict", "tuple", "set"})
# JSON has no tuple or set: an array is accepted for them (strict mode alone would refuse it).
_FROM_ARRAY = frozenset({"tuple", "set"})
# Nor a path: a string is accepted for one.
_FROM_TEXT = frozenset({"Path"})
# Names a field cannot carry: pydantic's own attributes, and the names the model's body reads.
_MODEL_NAMES = frozenset(
    {
        "Config",
        "construct",
        "copy",
        "dict",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "register",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
        "pydantic",
        "Annotated",
        "Any",
        "Path",
        "from_array",
        "from_text",
    }
)
_SCHEMA_TYPES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "list": "array",
    "tuple": "array",
    "set": "array",
    "dict": "object",
    "Path": "string",
}


@dataclass(frozen=True)
class ApiField:
    """One field of the generated pydantic model: a run() parameter as the JSON body names it."""

    parameter: Parameter
    attribute: str  # the Python name in the model; differs from the parameter's only when aliased
    annotation: str  # the field's type, `Any` when the default does not say

    @property
    def name(self) -> str:
        return self.parameter.name

    @property
    def base_type(self) -> str:
        return self.annotation.partition("[")[0]


def api_fields(
    parameters: Sequence[Parameter], allowed: Iterable[str] = ()
) -> tuple[ApiField, ...]:
    """The model's fields, typed from the defaults, renamed (with an alias) where pydantic must.

    A parameter whose default is a path is a field only when `allowed` names it.
    """
    names = NameAllocator({p.name for p in parameters} | _MODEL_NAMES)
    fields = []
    chosen = set(allowed)
    for parameter in parameters:
        if parameter.is_path and parameter.name not in chosen:
            continue
        attribute = parameter.name
        if _reserved(attribute):
            attribute = names.claim(f"field_{attribute.strip('_') or 'value'}", suffix="api")
        fields.append(ApiField(parameter, attribute, field_type(parameter)))
    return tuple(fields)


def _reserved(name: str) -> bool:
    """Pydantic takes `_x` as private, refuses `model_*` members, warns on shadowed attributes.

    A field named like a type (`list`) would also hide that type from the fields after it.
    """
    return name.startswith(("_", "model_")) or name in _MODEL_NAMES or name in _JSON_TYPES


def field_type(parameter: Parameter) -> str:
    """The pydantic type of a parameter: its annotation (tuples of any length), `Path` for a
    path, `Any` when the default says nothing JSON can carry."""
    if parameter.kind is Kind.PATH:
        return "Path"
    if parameter.kind.value in _JSON_TYPES:
        return parameter.annotation or "Any"
    return "Any"


def allowed_warnings(plan: Plan, target: Target) -> list[Diagnostic]:
    """`api_parameters` names that are no parameter of the notebook: a typo, or another's."""
    known = {p.name for p in plan.parameters}
    return [
        warning(
            f"api_parameters names `{name}`, which is no parameter of this notebook "
            f"({', '.join(sorted(known)) or 'it has none'}); it is ignored"
        )
        for name in target.api_parameters
        if name not in known
    ]


def json_default(parameter: Parameter) -> object:
    """The default as a JSON value for the API docs, or None when it is computed or not JSON."""
    return parameter.json_default


def schema_type(field: ApiField) -> str | None:
    """The JSON schema type the docs show for a field, None for any JSON value."""
    return _SCHEMA_TYPES.get(field.base_type)


def render(plan: Plan, target: Target) -> str:
    """The source of `<package>/api.py`, before formatting."""
    from nb2prod.emit import serving_api

    fields = api_fields(plan.parameters, target.api_parameters)
    serve = f"uvicorn {target.package}.api:app"
    if plan.serving is not None:
        serve = f"NB2PROD_ARTIFACTS=artifacts {serve}` after `python -m {target.package} train"
    module_doc = docstring(
        f"Web API for the pipeline of {target.source}.",
        f"Serve it with `{serve}` (pip install '.[api]').",
        indent="",
    )
    types = {f.base_type for f in fields}
    return join_sections(
        module_doc,
        _imports(plan, paths="Path" in types),
        _app(plan, target),
        FROM_ARRAY if types & _FROM_ARRAY else "",
        FROM_TEXT if types & _FROM_TEXT else "",
        _model(fields, plan.parameters),
        HEALTH if plan.serving is None else SERVING_HEALTH,
        RUN,
        serving_api.render(plan.serving, target) if plan.serving is not None else "",
    )


def _imports(plan: Plan, *, paths: bool) -> str:
    from nb2prod.emit import serving_api

    served = plan.serving
    pipeline = ["run", *(serving_api.pipeline_names(served) if served is not None else ())]
    runtime = ["json_value", *(serving_api.RUNTIME_NAMES if served is not None else ())]
    return (
        "import logging\n"
        + ("import os\n" if served is not None else "")
        + ("from pathlib import Path\n" if paths else "")
        + "from typing import Annotated, Any\n\n"
        "import pydantic\nfrom fastapi import Body, FastAPI\n"
        + ("from fastapi import Request\n" if served is not None else "")
        + "from fastapi.concurrency import run_in_threadpool\n"
        + ("from fastapi.openapi.utils import get_openapi\n" if served is not None else "")
        + "from fastapi.responses import JSONResponse\n\n"
        f"from .pipeline import {', '.join(sorted(pipeline))}\n"
        f"from .runtime import {', '.join(sorted(runtime))}\n"
    )


def _app(plan: Plan, target: Target) -> str:
    description = one_line(plan.title or f"Pipeline lifted from {target.source}", 400)
    return (
        "logger = logging.getLogger(__name__)\n\n"
        f"app = FastAPI(title={literal(target.package)}, description={literal(description)}, "
        'version="0.1.0")\n'
    )


def _model(fields: Sequence[ApiField], parameters: Sequence[Parameter]) -> str:
    lines = [
        docstring("The parameters of run(): any left out take the notebook's values."),
        "",
        'model_config = pydantic.ConfigDict(extra="forbid", strict=True)',
    ]
    kept = {f.name for f in fields}
    withheld = [p.name for p in parameters if p.name not in kept]
    if withheld:
        lines += [
            "",
            "# Not request fields: their defaults name files, and a client never chooses which",
            "# file the server reads (`api_parameters` in [tool.nb2prod] allows one by name):",
            f"# {', '.join(withheld)}",
        ]
    previous = None
    for field in fields:
        if field.parameter.cell != previous:
            lines += ["", f"# cell {field.parameter.cell}"]
            previous = field.parameter.cell
        lines.append(_field(field))
    body = "\n".join(f"    {line}" if line else "" for line in lines)
    return f"class Parameters(pydantic.BaseModel):\n{body}\n"


def _field(field: ApiField) -> str:
    parameter = field.parameter
    annotation = field.annotation
    if field.base_type in _FROM_ARRAY:
        annotation = f"Annotated[{annotation}, from_array({field.base_type})]"
    if field.base_type in _FROM_TEXT:
        annotation = f"Annotated[{annotation}, from_text({field.base_type})]"
    arguments = [*_default_arguments(parameter)]
    if field.attribute != field.name:
        arguments.append(f"alias={literal(field.name)}")
    arguments.append(f"description={literal(_description(parameter))}")
    return f"{field.attribute}: {annotation} = pydantic.Field({', '.join(arguments)})"


def _default_arguments(parameter: Parameter) -> Iterable[str]:
    """The default the docs show: the notebook's literal (mutable ones made afresh), else None.

    Fields left out of a request are not passed to run(), which applies its own default; so a
    computed default, or one JSON cannot show (`b"x"`, `1e999`), stands as None here.
    """
    if not _has_json_default(parameter):
        return ["None"]
    if parameter.inline:
        return [parameter.default]
    default = json_default(parameter)
    return [
        f"default_factory=lambda: {parameter.default}",
        f'json_schema_extra={{"default": {default!r}}}',
    ]


def _has_json_default(parameter: Parameter) -> bool:
    return parameter.literal and (parameter.value is None or json_default(parameter) is not None)


def _description(parameter: Parameter) -> str:
    where = f"From notebook cell {parameter.cell}."
    if _has_json_default(parameter):
        return where
    default = one_line(parameter.default, 80)
    if parameter.literal:
        return f"{where} When left out: {default}, as in the notebook."
    return f"{where} When left out, computed as the notebook does: {default}"


FROM_ARRAY = '''
def from_array(kind: type) -> Any:
    """JSON has only arrays: an array given for a tuple or set parameter becomes one."""
    return pydantic.BeforeValidator(lambda value: kind(value) if isinstance(value, list) else value)
'''

FROM_TEXT = '''
def from_text(kind: type) -> Any:
    """JSON has no paths: a string given for a path parameter becomes one."""
    return pydantic.BeforeValidator(lambda value: kind(value) if isinstance(value, str) else value)
'''

HEALTH = '''
@app.get("/health")
async def health() -> dict[str, str]:
    """Answers as long as the server runs, also while run() is busy in worker threads."""
    return {"status": "ok"}
'''

SERVING_HEALTH = '''
@app.get("/health")
async def health() -> dict[str, Any]:
    """Answers as long as the server runs, naming the trained model it serves: the notebook
    version its artifacts come from, when they were trained and with which parameters."""
    return {
        "status": "ok",
        "notebook_sha256": manifest["notebook_sha256"],
        "trained": manifest["created"],
        "parameters": manifest["parameters"],
    }
'''

RUN = '''
@app.post("/run", responses={500: {"description": "run() raised an exception"}})
async def run_pipeline(
    parameters: Annotated[Parameters, Body(default_factory=Parameters)],
) -> Any:
    """Run the pipeline with the parameters given and return its result as JSON."""
    # Only the fields given: run() applies the notebook's defaults to the others.
    given = parameters.model_dump(by_alias=True, exclude_unset=True)
    try:
        # A worker thread, so that the server keeps answering while run() works.
        result = await run_in_threadpool(run, **given)
        return JSONResponse(json_value(result))
    except Exception as exc:
        logger.exception("run() failed with %s", parameters)
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)
'''
