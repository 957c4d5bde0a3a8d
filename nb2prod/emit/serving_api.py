"""The serving part of `<package>/api.py`: each serving function as `POST /<function>` and
`POST /<function>/batch`, bound once at start-up to the artifacts in `$NB2PROD_ARTIFACTS`.

Request bodies are checked against a pydantic model built from the function's annotations
when the app starts (`runtime.request_model`), as JSON and strictly; the OpenAPI docs show each
function's docstring, and the literal arguments of its calls in the notebook as examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nb2prod.emit import Target
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift.serving import LiteralCall, Serving, ServingFunction
from nb2prod.literals import as_json
from nb2prod.naming import NameAllocator

BATCH_LIMIT = 1000  # the default number of cases one batch request may carry
RUNTIME_NAMES = (
    "ArtifactError",
    "BatchTooLarge",
    "arguments_of",
    "call_by_name",
    "cases_of",
    "component_schemas",
    "count_setting",
    "load_trained",
    "request_model",
)


def pipeline_names(serving: Serving) -> tuple[str, ...]:
    """What api.py imports from the pipeline module for serving."""
    names = serving.names
    return (names.factory, names.notebook_hash, names.artifacts)


def models(serving: Serving) -> dict[str, str]:
    """Each serving function's request model name (`PredictArguments`), clear of the others."""
    taken = NameAllocator(set(_reserved()))
    return {f.name: taken.claim(_camel(f.name) + "Arguments", "model") for f in serving.functions}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Function"


def _reserved() -> set[str]:
    """api.py's own module-level names, which no generated name may take."""
    return {"app", "logger", "service", "manifest", "health", "Parameters", "run_pipeline"}


def render(serving: Serving, target: Target) -> str:
    """The serving section of api.py, before formatting."""
    named = models(serving)
    handlers = NameAllocator(_reserved() | set(named.values()))
    return join_sections(
        _start(serving, target),
        "\n".join(
            f"{named[f.name]} = request_model({literal(named[f.name])}, service.{f.name})"
            for f in serving.functions
        ),
        HELPERS,
        *(_routes(f, named[f.name], _calls_of(serving, f), handlers) for f in serving.functions),
        _openapi(named.values()),
    )


def _calls_of(serving: Serving, function: ServingFunction) -> list[LiteralCall]:
    return [call for call in serving.calls if call.function == function.name]


def _start(serving: Serving, target: Target) -> str:
    names = serving.names
    doc = docstring(
        "The service bound to the artifacts in `folder`, and their manifest.",
        "A folder that is missing, tampered with, or saved by another package or notebook "
        "version stops the start with one line, and no traceback.",
    )
    return f'''# --- serving: the notebook's functions, bound once to trained artifacts -----------

# The folder train() saved the artifacts in (`python -m {target.package} train`).
ARTIFACTS_DIR = os.environ.get("NB2PROD_ARTIFACTS", "artifacts")
# The most cases one POST /<function>/batch may carry; a larger batch answers 413.
try:
    BATCH_LIMIT = count_setting("NB2PROD_BATCH_LIMIT", {BATCH_LIMIT})
except ValueError as exc:
    raise SystemExit(f"{target.package}.api: cannot start: {{exc}}") from None


def _start(folder: str) -> tuple[Any, dict[str, Any]]:
    {doc}
    try:
        values, trained = load_trained(
            folder,
            package={literal(target.package)},
            notebook_hash={names.notebook_hash},
            names={names.artifacts},
        )
    except ArtifactError as exc:
        raise SystemExit(f"{target.package}.api: cannot start: {{exc}}") from None
    return {names.factory}(**values), trained


service, manifest = _start(ARTIFACTS_DIR)
'''


def _routes(
    function: ServingFunction, model: str, calls: Sequence[LiteralCall], handlers: NameAllocator
) -> str:
    name = function.name
    one, many = handlers.claim(name, "endpoint"), handlers.claim(f"{name}_batch", "endpoint")
    summary = literal(f"{name} (notebook cell {function.cell})")
    description = literal(function.doc or f"The notebook's {name}(), cell {function.cell}.")
    examples = _examples(calls)
    listed = [example["value"] for example in examples.values()]
    batch_examples = (
        {"notebook": {"summary": "the calls in the notebook", "value": listed}} if listed else {}
    )
    batch_description = literal(
        f"A JSON array of {name}()'s argument objects, at most BATCH_LIMIT; an array of the "
        "results."
    )
    reference = f"#/components/schemas/{model}"
    single = {"$ref": reference}
    batch_schema = (
        f'{{"type": "array", "items": {{"$ref": {reference!r}}}, "maxItems": BATCH_LIMIT}}'
    )
    doc_one = docstring(f"Call {name}() with a JSON object of its arguments; its result as JSON.")
    doc_many = docstring(f"Call {name}() on each of a JSON array of argument objects.")
    return f"""@app.post(
    "/{name}",
    summary={summary},
    description={description},
    openapi_extra=_body({single!r}, {examples!r}),
    responses=_ANSWERS,
)
async def {one}(request: Request) -> Any:
    {doc_one}
    arguments = arguments_of({model}, await request.body())
    return await _answer(service.{name}, arguments)


@app.post(
    "/{name}/batch",
    summary={literal(f"{name} on many cases")},
    description={batch_description},
    openapi_extra=_body({batch_schema}, {batch_examples!r}),
    responses=_BATCH_ANSWERS,
)
async def {many}(request: Request) -> Any:
    {doc_many}
    cases = cases_of({model}, await request.body(), BATCH_LIMIT)
    return await _answer_all(service.{name}, cases)
"""


def _examples(calls: Sequence[LiteralCall]) -> dict[str, dict[str, object]]:
    """The notebook's literal calls as OpenAPI examples (those JSON can hold)."""
    examples: dict[str, dict[str, object]] = {}
    for call in calls:
        value = json_example({name: argument for name, argument in call.arguments})
        if value is not None:
            key, number = f"cell {call.cell}", 2
            while key in examples:  # several calls in one cell
                key, number = f"cell {call.cell} ({number})", number + 1
            examples[key] = {
                "summary": one_line(f"{call.code} in notebook cell {call.cell}", 80),
                "value": value,
            }
    return examples


def json_example(value: object) -> object | None:
    """A literal as the JSON a client sends for it, or None when JSON cannot hold it."""
    return as_json(value)


HELPERS = '''
_ANSWERS: dict[int | str, dict[str, Any]] = {
    422: {"description": "an argument is missing, unknown or of the wrong type"},
    500: {"description": "the function raised an exception"},
}
_BATCH_ANSWERS = {**_ANSWERS, 413: {"description": "more than BATCH_LIMIT cases"}}


def _body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a serving endpoint: its JSON schema and examples."""
    content: dict[str, Any] = {"schema": schema}
    if examples:
        content["examples"] = examples
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


async def _answer(function: Any, arguments: dict[str, Any]) -> Any:
    """The function's result as JSON; it runs in a worker thread, so others are answered."""
    try:
        result = await run_in_threadpool(call_by_name, function, arguments)
        return JSONResponse(json_value(result))
    except Exception as exc:
        logger.exception("%s() failed", function.__name__)
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)


async def _answer_all(function: Any, cases: list[dict[str, Any]]) -> Any:
    """Each case's result as JSON, in order, all in one worker thread."""

    def score() -> list[Any]:
        return [json_value(call_by_name(function, case)) for case in cases]

    try:
        return JSONResponse(await run_in_threadpool(score))
    except Exception as exc:
        logger.exception("%s() failed on a batch", function.__name__)
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)


@app.exception_handler(pydantic.ValidationError)
async def _invalid(request: Request, exc: pydantic.ValidationError) -> JSONResponse:
    """A body that does not fit the function's arguments: 422, as FastAPI answers its own."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    detail = [{**error, "loc": ["body", *error["loc"]]} for error in errors]
    return JSONResponse({"detail": detail}, status_code=422)


@app.exception_handler(BatchTooLarge)
async def _too_large(request: Request, exc: BatchTooLarge) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=413)
'''


def _openapi(model_names: Iterable[str]) -> str:
    listed = ", ".join(model_names)
    doc = docstring("The OpenAPI document, with the schemas of the serving request bodies.")
    return f"""def _openapi() -> dict[str, Any]:
    {doc}
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {{}}).setdefault("schemas", {{}})
        schemas.update(component_schemas([{listed}]))
        app.openapi_schema = document
    return app.openapi_schema


app.openapi = _openapi
"""
