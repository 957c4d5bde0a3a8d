"""The generated tests of serving: train() once per session, load() it, and check the served
functions against the notebook's own on each call the notebook makes with literal arguments.

The notebook's function is the one the session's pipeline run leaves (the pipeline hands the
serving functions on to its end); where the calling cell showed a plain-text result, the
served result must show the same text. With --api, the endpoints are tested through
FastAPI's TestClient on the same trained artifacts.
"""

from __future__ import annotations

from collections.abc import Sequence

from nb2prod.emit import Target
from nb2prod.emit.serving_api import json_example
from nb2prod.emit.text import docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Plan
from nb2prod.lift.serving import LiteralCall, Serving, ServingFunction


def render(plan: Plan, target: Target) -> str:
    """The serving tests appended to `tests/test_<package>.py`, before formatting."""
    serving = plan.serving
    if serving is None:
        return ""
    module = plan.module_alias
    return join_sections(
        _fixtures(plan, serving, module),
        COMPARING.replace("PACKAGE_RUNTIME", literal(f"{target.package}.runtime")),
        _trained_test(serving, module),
        *(_call_test(plan, serving, call, number) for number, call in _numbered(serving.calls)),
    )


def _numbered(calls: Sequence[LiteralCall]) -> list[tuple[int, LiteralCall]]:
    return list(enumerate(calls, start=1))


def _fixtures(plan: Plan, serving: Serving, module: str) -> str:
    return f"""@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    {docstring("train() with the notebook's parameters, once for the session, into a new folder.")}
    folder = tmp_path_factory.mktemp("trained") / "artifacts"
    with notebook_folder():
        {module}.train(folder, **notebook_parameters())
    return folder


@pytest.fixture(scope="session")
def service(trained: Path) -> Any:
    {docstring("The serving functions bound to the trained artifacts, as load() gives them.")}
    return {module}.load(trained)
"""


COMPARING = '''
def _same(served: Any, expected: Any) -> bool:
    """Equal as JSON shows them, floats within a relative 1e-9: the model was trained twice."""
    from math import isclose

    if isinstance(served, float) or isinstance(expected, float):
        try:
            return isclose(served, expected, rel_tol=1e-9, abs_tol=1e-12)
        except TypeError:
            return False
    if isinstance(served, list) and isinstance(expected, list):
        pairs = zip(served, expected)
        return len(served) == len(expected) and all(_same(a, b) for a, b in pairs)
    if isinstance(served, dict) and isinstance(expected, dict):
        same_keys = served.keys() == expected.keys()
        return same_keys and all(_same(served[key], expected[key]) for key in served)
    return bool(served == expected)


def _json(value: Any) -> Any:
    """A value as the JSON the command line and the web API give for it."""
    from importlib import import_module

    return import_module(PACKAGE_RUNTIME).json_value(value)


def _shows(value: Any, recorded: str) -> bool:
    """Whether `value` shows as the notebook showed it: the same text (IPython's pretty repr
    or repr, whitespace collapsed), or, for a literal, the same value up to float rounding."""
    import ast

    shown = {" ".join(repr(value).split())}
    try:
        from IPython.lib.pretty import pretty

        shown.add(" ".join(pretty(value).split()))
    except ImportError:
        pass
    if " ".join(recorded.split()) in shown:
        return True
    try:
        return _same(_json(value), _json(ast.literal_eval(recorded)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
'''


def _trained_test(serving: Serving, module: str) -> str:
    functions = [f.name for f in serving.functions]
    return f'''def test_train_saves_what_the_serving_functions_read(
    trained: Path, service: Any
) -> None:
    """train() writes one file per artifact and a manifest of this notebook version; load()
    gives each serving function under its own name."""
    import json

    manifest = json.loads((trained / "manifest.json").read_text())
    assert sorted(manifest["artifacts"]) == sorted({module}.{serving.names.artifacts})
    assert manifest["notebook_sha256"] == {module}.{serving.names.notebook_hash}
    assert all(callable(getattr(service, name)) for name in {functions!r})
'''


def _notebook_function(plan: Plan, serving: Serving, name: str) -> str:
    """Where the tests find the notebook's own function: the session run hands closures on to
    its end; one that needs nothing of the pipeline stays at module level."""
    if name in serving.module_level:
        return f"{plan.module_alias}.{name}"
    return f"{plan.run_fixture}.states[-1][{literal(name)}]"


def _call_test(plan: Plan, serving: Serving, call: LiteralCall, number: int) -> str:
    arguments = call.code[len(call.function) :]  # `(...)`, as the notebook wrote it
    notebook = _notebook_function(plan, serving, call.function)
    doc = docstring(
        f"The served {call.function}() gives what the notebook's gives for "
        f"`{one_line(call.code, 60)}` (cell {call.cell})"
        + (", and shows what the cell showed." if call.recorded is not None else ".")
    )
    lines = [
        f"served = service.{call.function}{arguments}",
        f"expected = {notebook}{arguments}",
        "assert _same(_json(served), _json(expected)), (served, expected)",
    ]
    if call.recorded is not None:
        lines.append(f"recorded = {literal(call.recorded)}")
        lines.append('assert _shows(served, recorded), f"the notebook showed {recorded}"')
    body = "\n".join(f"    {line}" for line in lines)
    name = f"test_served_{call.function}_cell_{call.cell}_{number}"
    fixture = plan.run_fixture
    return f"def {name}(service: Any, {fixture}: PipelineRun) -> None:\n    {doc}\n{body}\n"


def api_tests(plan: Plan, target: Target) -> str:
    """With --api and serve cells, the tests of the serving endpoints, or ''."""
    serving = plan.serving
    if serving is None:
        return ""
    tests = [_health_test(plan)]
    for function in serving.functions:
        calls = [c for c in serving.calls if c.function == function.name and _json_body(c)]
        tests.append(_endpoint_tests(function, calls[0] if calls else None, target.package))
    return join_sections(*tests)


def _json_body(call: LiteralCall) -> dict[str, object] | None:
    body = json_example(dict(call.arguments))
    return body if isinstance(body, dict) else None


def _health_test(plan: Plan) -> str:
    return '''def test_api_health_names_the_trained_model(api_client: Any, trained: Path) -> None:
    """GET /health gives the notebook hash and the parameters the artifacts were trained with."""
    import json

    manifest = json.loads((trained / "manifest.json").read_text())
    health = api_client.get("/health").json()
    assert health["notebook_sha256"] == manifest["notebook_sha256"]
    assert health["parameters"] == manifest["parameters"]
'''


def _endpoint_tests(function: ServingFunction, call: LiteralCall | None, package: str) -> str:
    name = function.name
    tests = [
        f'''def test_api_{name}_refuses_unknown_arguments(api_client: Any) -> None:
    """POST /{name} with an argument {name}() does not take gets 422."""
    response = api_client.post("/{name}", json={{"no_such_argument": 1}})
    assert response.status_code == 422, response.text


def test_api_{name}_batch_has_a_limit(api_client: Any) -> None:
    """POST /{name}/batch takes at most BATCH_LIMIT cases; more get 413."""
    from importlib import import_module

    limit = import_module({literal(package + ".api")}).BATCH_LIMIT
    response = api_client.post("/{name}/batch", json=[{{}}] * (limit + 1))
    assert response.status_code == 413, response.text
    assert api_client.post("/{name}/batch", json=[]).json() == []
'''
    ]
    if call is not None:
        body = _json_body(call)
        tests.append(
            f'''def test_api_{name}_answers_as_the_service(api_client: Any, service: Any) -> None:
    """POST /{name} and /{name}/batch answer what the loaded {name}() gives, as JSON."""
    expected = _json(service.{call.code})
    response = api_client.post("/{name}", json={body!r})
    assert response.status_code == 200, response.text
    assert _same(response.json(), expected)
    response = api_client.post("/{name}/batch", json=[{body!r}] * 2)
    assert response.status_code == 200, response.text
    assert _same(response.json(), [expected, expected])
'''
        )
    return join_sections(*tests)
