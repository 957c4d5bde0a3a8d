"""`<package>/api.py` (with --api): a FastAPI app serving run() as `POST /run`, and `/health`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nb2prod.emit import Target
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Kind, Parameter, Plan
from nb2prod.naming import NameAllocator

# Types pydantic validates strictly from a JSON body; any other default is taken as any JSON.
_JSON_TYPES = frozenset({"int", "float", "str", "bool", "list", "dict", "tuple", "set"})
# JSON has no tuple or set: an array is accepted for them (strict mode alone would refuse it).
_FROM_ARRAY = frozenset({"tuple", "set"})
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
        "from_array",
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


def api_fields(parameters: Sequence[Parameter]) -> tuple[ApiField, ...]:
    """The model's fields, typed from the defaults, renamed (with an alias) where pydantic must."""
    names = NameAllocator({p.name for p in parameters} | _MODEL_NAMES)
    fields = []
    for parameter in parameters:
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
    """The pydantic type of a parameter: from its default's kind, with tuples of any length."""
    kind = parameter.kind
    if kind in {Kind.INT, Kind.FLOAT, Kind.STR, Kind.BOOL, Kind.DICT}:
        return kind.value
    if kind in {Kind.LIST, Kind.SET}:
        return parameter.annotation or kind.value
    if kind is Kind.TUPLE:
        return f"tuple[{parameter.item}, ...]" if parameter.item else "tuple"
    return "Any"


def json_default(parameter: Parameter) -> object:
    """The default as a JSON value for the API docs, or None when it is computed or not JSON."""
    return parameter.json_default


def schema_type(field: ApiField) -> str | None:
    """The JSON schema type the docs show for a field, None for any JSON value."""
    return _SCHEMA_TYPES.get(field.base_type)


def render(plan: Plan, target: Target) -> str:
    """The source of `<package>/api.py`, before formatting."""
    fields = api_fields(plan.parameters)
    module_doc = docstring(
        f"Web API for the pipeline of {target.source}.",
        f"Serve it with `uvicorn {target.package}.api:app` (pip install '.[api]').",
        indent="",
    )
    return join_sections(
        module_doc,
        _imports(),
        _app(plan, target),
        FROM_ARRAY if any(f.base_type in _FROM_ARRAY for f in fields) else "",
        _model(fields),
        ENDPOINTS,
        JSON_VALUE,
    )


def _imports() -> str:
    return (
        "import logging\nimport math\nimport sys\nfrom typing import Annotated, Any\n\n"
        "import pydantic\nfrom fastapi import Body, FastAPI\n"
        "from fastapi.concurrency import run_in_threadpool\n"
        "from fastapi.responses import JSONResponse\n\nfrom .pipeline import run\n"
    )


def _app(plan: Plan, target: Target) -> str:
    description = one_line(plan.title or f"Pipeline lifted from {target.source}", 400)
    return (
        "logger = logging.getLogger(__name__)\n\n"
        f"app = FastAPI(title={literal(target.package)}, description={literal(description)}, "
        'version="0.1.0")\n'
    )


def _model(fields: Sequence[ApiField]) -> str:
    lines = [
        docstring("The parameters of run(): any left out take the notebook's values."),
        "",
        'model_config = pydantic.ConfigDict(extra="forbid", strict=True)',
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

ENDPOINTS = '''
@app.get("/health")
async def health() -> dict[str, str]:
    """Answers as long as the server runs, also while run() is busy in worker threads."""
    return {"status": "ok"}


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

JSON_VALUE = '''
def json_value(value: Any) -> Any:
    """A result as JSON values: numpy arrays and pandas series as lists, frames as records.

    NaN and missing values become null; what JSON cannot hold becomes its repr, as the CLI prints.
    """
    # numpy and pandas are looked up, never imported: a value of theirs implies they are loaded.
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if isinstance(value, pandas.DataFrame):
            return json_value(value.to_dict(orient="records"))
        if isinstance(value, (pandas.Series, pandas.Index)):
            return json_value(value.tolist())
        if value is pandas.NA or value is pandas.NaT:
            return None
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            return json_value(value.tolist())
        if isinstance(value, numpy.generic):
            return json_value(value.item())
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return [json_value(item) for item in _ordered(value)]
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if hasattr(value, "isoformat"):  # datetime, date, time, pandas.Timestamp
        return value.isoformat()
    return repr(value)


def _ordered(items: Any) -> list[Any]:
    """A set in sorted order when it sorts, so that equal results give equal answers."""
    try:
        return sorted(items)
    except TypeError:
        return list(items)
'''
