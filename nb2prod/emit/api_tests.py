"""The generated tests of the web API (with --api): FastAPI's TestClient against `<package>.api`."""

from __future__ import annotations

from nb2prod.emit import Target, serving_tests
from nb2prod.emit.api import ApiField, api_fields, json_default, schema_type
from nb2prod.emit.cli_app import option_kind
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Plan

# A JSON value of the wrong type for each simple parameter kind, for the 422 test.
_MISTYPED: dict[str, object] = {
    "int": "not an integer",
    "float": "not a number",
    "str": 12345,
    "bool": "not a boolean",
}


def render(plan: Plan, target: Target) -> str:
    """The API tests appended to `tests/test_<package>.py`, before formatting."""
    fields = api_fields(plan.parameters)
    return join_sections(
        _client_fixture(plan, target),
        HEALTH_AND_RUN.replace(
            'assert response.json() == {"status": "ok"}',
            'assert response.json()["status"] == "ok"',
        )
        if plan.serving is not None
        else HEALTH_AND_RUN,
        _mistyped_test(fields),
        _docs_test(plan, target, fields),
        serving_tests.api_tests(plan, target),
    )


def _client_fixture(plan: Plan, target: Target) -> str:
    if plan.serving is not None:
        return _serving_client_fixture(target)
    doc = docstring("A client of the web API; skipped when the `api` extra is not installed.")
    return f"""
@pytest.fixture
def api_client() -> Any:
    {doc}
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from {target.package}.api import app

    return TestClient(app)
"""


def _serving_client_fixture(target: Target) -> str:
    doc = docstring(
        "A client of the web API, serving the session's trained artifacts; skipped when the "
        "`api` extra is not installed."
    )
    return f"""
@pytest.fixture(scope="session")
def api_client(trained: Path) -> Any:
    {doc}
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NB2PROD_ARTIFACTS", str(trained))
        from {target.package}.api import app  # loads the artifacts as it starts

    return TestClient(app)
"""


HEALTH_AND_RUN = '''
def test_api_health(api_client: Any) -> None:
    """GET /health answers."""
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_api_runs_with_notebook_parameters(api_client: Any) -> None:
    """POST /run with no body runs the pipeline with the notebook's parameters."""
    response = api_client.post("/run")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"


def test_api_rejects_unknown_parameters(api_client: Any) -> None:
    """A field that is not a parameter of run() gets 422."""
    response = api_client.post("/run", json={"no_such_parameter": 1})
    assert response.status_code == 422
'''


def _mistyped_test(fields: tuple[ApiField, ...]) -> str:
    """A 422 test on the first parameter of a simple type, when the notebook has one."""
    field = next((f for f in fields if option_kind(f.parameter) in _MISTYPED), None)
    if field is None:
        return ""
    body = {field.name: _MISTYPED[option_kind(field.parameter)]}
    doc = docstring(f"A value of the wrong type for {one_line(field.name)} gets 422.")
    return f"""
def test_api_rejects_mistyped_parameters(api_client: Any) -> None:
    {doc}
    response = api_client.post("/run", json={body!r})
    assert response.status_code == 422
"""


def _docs_test(plan: Plan, target: Target, fields: tuple[ApiField, ...]) -> str:
    names = [f.name for f in fields]
    types = {f.name: schema_type(f) for f in fields}
    defaults = {f.name: json_default(f.parameter) for f in fields}
    description = one_line(plan.title or f"Pipeline lifted from {target.source}", 400)
    doc = docstring("The OpenAPI docs list each parameter's name, type and default.")
    return f"""
def test_api_docs_list_parameters(api_client: Any) -> None:
    {doc}
    docs = api_client.get("/openapi.json").json()
    assert docs["info"]["description"] == {literal(description)}
    fields = docs["components"]["schemas"]["Parameters"]["properties"]
    assert list(fields) == {names!r}
    assert {{name: field.get("type") for name, field in fields.items()}} == {types!r}
    assert {{name: field.get("default") for name, field in fields.items()}} == {defaults!r}
"""
