"""--api: the generated FastAPI app validates, runs in a worker thread, converts, fails cleanly."""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nb2prod.build import Status
from nb2prod.cli import app as cli_app
from nb2prod.emit.api import api_fields, field_type, json_default
from nb2prod.lift import Parameter

from conftest import FIXTURES, ROOT, build, load_package, run_generated_tests
from notebooks import write_notebook

QUOTE = FIXTURES / "api_service" / "input.ipynb"
EXAMPLE = ROOT / "examples" / "churn_deploy.ipynb"


def parameter(default: str, value: object, literal: bool = True, name: str = "p") -> Parameter:
    return Parameter(name=name, default=default, cell=1, value=value, literal=literal)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(parameter("3", 3), "int", id="an int default types the field int"),
        pytest.param(parameter("0.5", 0.5), "float", id="a float default"),
        pytest.param(parameter("'a'", "a"), "str", id="a string default"),
        pytest.param(parameter("False", False), "bool", id="a bool default stays bool"),
        pytest.param(parameter("[1, 2]", [1, 2]), "list[int]", id="a list of ints"),
        pytest.param(parameter("[1, 'a']", [1, "a"]), "list", id="a mixed list is any list"),
        pytest.param(
            parameter("(1, 2, 3)", (1, 2, 3)), "tuple[int, ...]", id="a tuple of any length"
        ),
        pytest.param(parameter("{'a': 1}", {"a": 1}), "dict", id="a dict"),
        pytest.param(parameter("None", None), "Any", id="None says nothing about the type"),
        pytest.param(parameter("b'x'", b"x"), "Any", id="bytes have no JSON form"),
        pytest.param(parameter("n * 2", None, literal=False), "Any", id="a computed default"),
    ],
)
def test_field_type(given: Parameter, expected: str) -> None:
    assert field_type(given) == expected


@pytest.mark.parametrize(
    ("names", "attributes"),
    [
        pytest.param(["n", "label"], ["n", "label"], id="plain names stay as they are"),
        pytest.param(["model_name"], ["field_model_name"], id="pydantic's model_ prefix"),
        pytest.param(["_seed"], ["field_seed"], id="a leading underscore is private to pydantic"),
        pytest.param(["json", "copy"], ["field_json", "field_copy"], id="BaseModel attributes"),
        pytest.param(["list", "x"], ["field_list", "x"], id="a type the model's fields read"),
        pytest.param(
            ["json", "field_json"], ["field_json_api", "field_json"], id="no clash with a parameter"
        ),
    ],
)
def test_fields_renamed_only_where_pydantic_must(names: list[str], attributes: list[str]) -> None:
    fields = api_fields([parameter("1", 1, name=n) for n in names])
    assert [f.attribute for f in fields] == attributes
    assert [f.name for f in fields] == names


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(parameter("(1, 2)", (1, 2)), [1, 2], id="a tuple as an array"),
        pytest.param(parameter("{'b', 'a'}", {"b", "a"}), ["a", "b"], id="a set sorted"),
        pytest.param(parameter("{'k': (1,)}", {"k": (1,)}), {"k": [1]}, id="nested values"),
        pytest.param(parameter("1e999", math.inf), None, id="infinity has no JSON form"),
        pytest.param(parameter("n * 2", None, literal=False), None, id="computed: no default"),
    ],
)
def test_json_default(given: Parameter, expected: object) -> None:
    assert json_default(given) == expected


@pytest.fixture(scope="module")
def quote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The fixture notebook's package built with --api: (pipeline, api)."""
    out = tmp_path_factory.mktemp("quote")
    assert build(QUOTE, out, name="quote_api", api=True).status is Status.WRITTEN
    with load_package(out / "quote_api", "quote_api") as pipeline:
        yield pipeline, importlib.import_module("quote_api.api")


@pytest.fixture
def client(quote: tuple[ModuleType, ModuleType]) -> TestClient:
    return TestClient(quote[1].app)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="the notebook's parameters"),
        pytest.param({"quantity": 4, "currency": "USD", "express": True}, id="scalars given"),
        pytest.param({"unit_price": 3}, id="an int where a float is expected"),
        pytest.param({"discounts": [0.5], "meta": {"channel": "shop"}}, id="list and dict"),
        pytest.param({"sizes": [4, 5, 6]}, id="an array for a tuple, of another length"),
        pytest.param({"limit": 7, "model_name": "big"}, id="computed and aliased parameters"),
    ],
)
def test_run_answers_what_run_returns(
    quote: tuple[ModuleType, ModuleType], client: TestClient, body: dict[str, Any]
) -> None:
    pipeline, api = quote
    response = client.post("/run", json=body)
    assert response.status_code == 200, response.text
    arguments = {k: tuple(v) if k == "sizes" else v for k, v in body.items()}
    assert response.json() == api.json_value(pipeline.run(**arguments))


def test_no_body_runs_with_the_notebook_parameters(client: TestClient) -> None:
    answer = client.post("/run").json()
    assert answer == {
        "total": 6.38,
        "currency": "EUR",
        "express": False,
        "sizes": [1, 2],
        "channel": "web",
        "limit": 30,
        "model": "base",
        "discounts": 3,
    }


def test_requests_share_no_mutable_default(client: TestClient) -> None:
    """The notebook appends to its `discounts` list; each request starts from the notebook's."""
    counts = [client.post("/run", json={}).json()["discounts"] for _ in range(3)]
    assert counts == [3, 3, 3]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"no_such_parameter": 1}, id="an unknown field"),
        pytest.param({"field_model_name": "x"}, id="the Python name of an aliased field"),
        pytest.param({"quantity": "3"}, id="a numeric string for an int"),
        pytest.param({"quantity": 3.5}, id="a float for an int"),
        pytest.param({"quantity": True}, id="a bool for an int"),
        pytest.param({"unit_price": "2.5"}, id="a string for a float"),
        pytest.param({"currency": 5}, id="a number for a string"),
        pytest.param({"express": "yes"}, id="a string for a bool"),
        pytest.param({"express": 1}, id="a number for a bool"),
        pytest.param({"discounts": 0.1}, id="a number for a list"),
        pytest.param({"discounts": ["0.1"]}, id="a string inside a list of floats"),
        pytest.param({"sizes": ["1"]}, id="a string inside a tuple of ints"),
        pytest.param({"meta": []}, id="an array for a dict"),
        pytest.param([1, 2], id="an array for the body"),
    ],
)
def test_bad_bodies_get_422(client: TestClient, body: object) -> None:
    response = client.post("/run", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_docs_list_each_parameter_with_type_and_default(client: TestClient) -> None:
    docs = client.get("/openapi.json").json()
    assert docs["info"]["description"] == "Price quote service"
    model = docs["components"]["schemas"]["Parameters"]
    assert model["additionalProperties"] is False
    fields = model["properties"]
    assert fields["quantity"] == {
        "type": "integer",
        "title": "Quantity",
        "description": "From notebook cell 2.",
        "default": 3,
    }
    assert fields["discounts"]["items"] == {"type": "number"}
    assert fields["discounts"]["default"] == [0.1, 0.05]
    assert fields["sizes"]["default"] == [1, 2]
    assert "quantity * 10" in fields["limit"]["description"]
    assert "model_name" in fields and "field_model_name" not in fields
    body = docs["paths"]["/run"]["post"]["requestBody"]
    assert not body.get("required"), "POST /run with no body runs with the notebook's values"


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_without_the_option_there_is_no_api(tmp_path: Path) -> None:
    assert build(QUOTE, tmp_path, name="quote_plain").status is Status.WRITTEN
    project = tmp_path / "quote_plain"
    assert not (project / "quote_plain" / "api.py").exists()
    pyproject = (project / "pyproject.toml").read_text()
    assert "fastapi" not in pyproject and "httpx" not in pyproject
    assert "api_client" not in (project / "tests" / "test_quote_plain.py").read_text()


def test_the_option_adds_the_api_extra(tmp_path: Path) -> None:
    build(QUOTE, tmp_path, name="quote_extra", api=True)
    pyproject = (tmp_path / "quote_extra" / "pyproject.toml").read_text()
    assert 'test = ["pytest>=7", "httpx>=0.24"]' in pyproject
    assert 'api = ["fastapi>=0.110", "pydantic>=2", "uvicorn>=0.23"]' in pyproject


def test_cli_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(
        cli_app,
        ["build", str(QUOTE.relative_to(ROOT)), "--out", str(tmp_path), "--name", "q", "--api"],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "q" / "q" / "api.py").is_file()


def serve(tmp_path: Path, cells: list[str], package: str) -> Iterator[Any]:
    """Build `cells` with --api and yield the package's api module."""
    notebook = write_notebook(tmp_path / f"{package}.ipynb", cells)
    assert build(notebook, tmp_path / "out", api=True).status is Status.WRITTEN
    with load_package(tmp_path / "out" / package, package):
        yield importlib.import_module(f"{package}.api")


@pytest.fixture
def divider(tmp_path: Path) -> Iterator[Any]:
    yield from serve(tmp_path, ["parameters: divisor = 1", "deploy: 10 / divisor"], "divider")


def test_an_exception_in_run_gives_500_and_the_server_goes_on(
    divider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(divider.app)
    with caplog.at_level(logging.ERROR, logger="divider.api"):
        failed = client.post("/run", json={"divisor": 0})
    assert failed.status_code == 500
    assert failed.json() == {"error": "ZeroDivisionError: division by zero"}
    logged = [r for r in caplog.records if r.name == "divider.api"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "divisor=0" in logged[0].getMessage()
    assert client.post("/run", json={"divisor": 4}).json() == 2.5
    assert client.get("/health").status_code == 200


GATED = [
    "parameters: gate = ''",
    "deploy: import pathlib\nimport threading\nimport time\n\n"
    "deadline = time.monotonic() + 10\n"
    "while gate and not pathlib.Path(gate).exists() and time.monotonic() < deadline:\n"
    "    time.sleep(0.01)",
    "deploy: threading.current_thread() is threading.main_thread()",
]


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Any]:
    """run() waits until a file exists (at most 10 s)."""
    yield from serve(tmp_path, GATED, "gated")


def test_run_works_in_a_thread_while_the_server_answers(gated: Any, tmp_path: Path) -> None:
    gate = tmp_path / "open"

    async def scenario() -> tuple[httpx.Response, bool, httpx.Response]:
        transport = httpx.ASGITransport(app=gated.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            running = asyncio.create_task(client.post("/run", json={"gate": str(gate)}))
            await asyncio.sleep(0.05)
            health = await client.get("/health")
            still_running = not running.done()
            gate.touch()
            return health, still_running, await running

    health, still_running, result = asyncio.run(scenario())
    assert health.json() == {"status": "ok"}
    assert still_running, "/health must answer while run() is busy"
    assert result.status_code == 200
    assert result.json() is False, "run() must not execute on the event loop's thread"


@pytest.fixture(scope="module")
def converter(quote: tuple[ModuleType, ModuleType]) -> Any:
    return quote[1].json_value


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


FRAME = pd.DataFrame(
    {"a": np.arange(2), "b": [0.5, np.nan], "when": pd.to_datetime(["2024-05-01", None])}
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(np.arange(3), [0, 1, 2], id="a numpy array as a list"),
        pytest.param(np.array([[1.5, np.nan]]), [[1.5, None]], id="2-d, NaN as null"),
        pytest.param(np.float32(0.5), 0.5, id="a numpy float"),
        pytest.param(np.int64(7), 7, id="a numpy int"),
        pytest.param(np.bool_(True), True, id="a numpy bool"),
        pytest.param(pd.Series([1, 2], index=["x", "y"]), [1, 2], id="a series as a list"),
        pytest.param(
            FRAME,
            [
                {"a": 0, "b": 0.5, "when": "2024-05-01T00:00:00"},
                {"a": 1, "b": None, "when": None},
            ],
            id="a frame as records, missing values as null",
        ),
        pytest.param(pd.Index([3, 4]), [3, 4], id="an index"),
        pytest.param({1: (2, 3), "k": {"b", "a"}}, {"1": [2, 3], "k": ["a", "b"]}, id="nested"),
        pytest.param([math.inf, -math.inf, math.nan], [None, None, None], id="non-finite"),
        pytest.param(pd.Timestamp("2024-05-01 12:00"), "2024-05-01T12:00:00", id="a timestamp"),
        pytest.param(Opaque(), "Opaque()", id="anything else as its repr, as the CLI prints"),
    ],
)
def test_results_become_json(converter: Any, value: object, expected: object) -> None:
    assert converter(value) == expected


def test_numpy_and_pandas_results_over_http(tmp_path: Path) -> None:
    cells = [
        "parameters: n = 3",
        "deploy: import numpy as np\nimport pandas as pd\n"
        "frame = pd.DataFrame({'i': np.arange(n), 'half': np.arange(n) / 2})",
        "deploy: {'frame': frame, 'total': frame['i'].sum(), 'halves': frame['half'],\n"
        " 'grid': np.eye(2)}",
    ]
    for api in serve(tmp_path, cells, "tables"):
        answer = TestClient(api.app).post("/run", json={"n": 2}).json()
    assert answer == {
        "frame": [{"i": 0, "half": 0.0}, {"i": 1, "half": 0.5}],
        "total": 1,
        "halves": [0.0, 0.5],
        "grid": [[1.0, 0.0], [0.0, 1.0]],
    }


def test_generated_api_tests_pass_under_pytest(tmp_path: Path) -> None:
    assert build(EXAMPLE, tmp_path, api=True).status is Status.WRITTEN
    done = run_generated_tests(tmp_path / "churn_deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    # 4 pipeline tests (with the golden test of the recorded result) and 5 API tests
    assert "9 passed" in done.stdout and "skipped" not in done.stdout, done.stdout


def test_defaults_without_a_json_form(tmp_path: Path) -> None:
    """Left out, such parameters take run()'s own default; the docs still render."""
    cells = [
        "parameters: token = b'abc'\nhuge = 1e999\npairs = {(1, 2): 'a'}",
        "deploy: (token, huge, pairs)",
    ]
    for api in serve(tmp_path, cells, "odd_defaults"):
        client = TestClient(api.app)
        answer = client.post("/run").json()
        fields = client.get("/openapi.json").json()["components"]["schemas"]["Parameters"]
        given = client.post("/run", json={"huge": 2.5, "token": "x"}).json()
    assert answer == ["b'abc'", None, {"(1, 2)": "a"}]
    assert {name: field.get("default") for name, field in fields["properties"].items()} == {
        "token": None,
        "huge": None,
        "pairs": None,
    }
    assert "b'abc', as in the notebook" in fields["properties"]["token"]["description"]
    assert given[:2] == ["x", 2.5]


# A notebook whose parameters name files: the server's, never a client's to choose.
FILES = [
    "parameters: from pathlib import Path\nimport os\n"
    "data_path = 'data/2024-05-01_readings.csv'\nmodel_dir = Path('models')\n"
    "report = 'report.pdf'\nfeed = 'https://example.com/feed'\nbackup = os.path.join('a', 'b')\n"
    "sources = ['north.csv', 'south.csv']\nthreshold = 0.5\nname = 'churn'",
    "deploy: {'read': open(data_path).read().strip(), 'model': [type(model_dir).__name__, "
    "str(model_dir)], 'threshold': threshold, 'name': name}",
]
PATHS = ["data_path", "model_dir", "report", "feed", "backup", "sources"]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "2024-05-01_readings.csv").write_text("ours\n")
    monkeypatch.chdir(tmp_path)
    return write_notebook(tmp_path / "files_deploy.ipynb", FILES)


def _api(out: Path) -> Iterator[Any]:
    with load_package(out / "files_deploy", "files_deploy"):
        yield importlib.import_module("files_deploy.api")


def test_path_parameters_are_no_request_fields(files: Path, tmp_path: Path) -> None:
    assert build(files, tmp_path / "out", api=True).status is Status.WRITTEN
    for api in _api(tmp_path / "out"):
        client = TestClient(api.app)
        for name, value in [("data_path", "/etc/passwd"), ("model_dir", "/"), ("feed", "x")]:
            assert client.post("/run", json={name: value}).status_code == 422, name
        answer = client.post("/run", json={"threshold": 0.7}).json()
        docs = client.get("/openapi.json").json()["components"]["schemas"]["Parameters"]
    assert answer == {
        "read": "ours",
        "model": ["PosixPath", "models"],
        "threshold": 0.7,
        "name": "churn",
    }
    assert list(docs["properties"]) == ["threshold", "name"]


def test_a_path_parameter_the_project_allows_is_a_field(files: Path, tmp_path: Path) -> None:
    result = build(files, tmp_path / "out", api=True, api_parameters=("model_dir", "nope"))
    assert result.status is Status.WRITTEN
    assert result.messages == (
        f"{files.as_posix()}: warning: api_parameters names `nope`, which is no parameter of "
        "this notebook (backup, data_path, feed, model_dir, name, report, sources, threshold); "
        "it is ignored",
    )
    for api in _api(tmp_path / "out"):
        client = TestClient(api.app)
        answer = client.post("/run", json={"model_dir": "elsewhere"}).json()
        assert client.post("/run", json={"data_path": "/etc/passwd"}).status_code == 422
    assert answer["model"] == ["PosixPath", "elsewhere"]  # a pathlib.Path in run()


def test_api_parameters_from_the_command_line_and_the_settings(files: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    given = ["build", "files_deploy.ipynb", "--api", "--api-parameter", "report"]
    assert runner.invoke(cli_app, [*given, "--out", "cli"]).exit_code == 0
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nb2prod]\nout = "settings"\napi = true\napi_parameters = ["report", "feed"]\n'
    )
    assert runner.invoke(cli_app, ["build", "files_deploy.ipynb"]).exit_code == 0
    for out, allowed in [("cli", ["report"]), ("settings", ["report", "feed"])]:
        model = (tmp_path / out / "files_deploy" / "files_deploy" / "api.py").read_text()
        assert [name for name in PATHS if f"    {name}: " in model] == allowed, out
    (tmp_path / "pyproject.toml").write_text("[tool.nb2prod]\napi_parameters = [1]\n")
    wrong = runner.invoke(cli_app, ["build", "files_deploy.ipynb"])
    assert wrong.exit_code == 2


@pytest.mark.parametrize(
    ("default", "is_path"),
    [
        pytest.param("Path('models')", True, id="a Path"),
        pytest.param("pathlib.PurePath('x')", True, id="a path class by its module"),
        pytest.param("'data/2024-05-01_x.csv'", True, id="text with a separator"),
        pytest.param("'model.pkl'", True, id="text with a file extension"),
        pytest.param("'C:\\\\data'", True, id="a Windows separator"),
        pytest.param("['a.csv', 'b.csv']", True, id="a list of file names"),
        pytest.param("{'train': 'data/train.csv'}", True, id="a dict holding a path"),
        pytest.param("os.path.join('a', 'b')", True, id="built with os.path"),
        pytest.param("f'{root}/x.csv'", True, id="an f-string naming a file"),
        pytest.param("'churn'", False, id="a word"),
        pytest.param("'3.11'", False, id="a version is no extension"),
        pytest.param("0.5", False, id="a number"),
        pytest.param("['a', 'b']", False, id="a list of words"),
        pytest.param("n * 2", False, id="computed from a number"),
    ],
)
def test_which_defaults_are_paths(default: str, is_path: bool) -> None:
    import libcst as cst

    from nb2prod.lift.parameters import _parameter

    assert _parameter("p", cst.parse_expression(default), 1, {}).is_path is is_path


def test_a_default_built_from_a_path_parameter_is_a_path() -> None:
    import libcst as cst

    from nb2prod.lift.parameters import _parameter

    root = _parameter("root", cst.parse_expression("Path('data')"), 1, {})
    derived = _parameter("train", cst.parse_expression("root / 'train.csv'"), 1, {"root": root})
    assert (derived.is_path, derived.annotation) == (True, "Path")
    assert field_type(derived) == "Path"
