"""The web API of serving functions: through TestClient, and a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from nb2prod.build import Status

from conftest import FIXTURES, ROOT, build

NOTEBOOK = FIXTURES / "serving" / "input.ipynb"
EXAMPLE = ROOT / "examples" / "listings_deploy.ipynb"
GOOD = {"review": {"text": "good value", "stars": 4}}
HOST = "127.0.0.1"


def train(project: Path, folder: Path, cwd: Path, **parameters: object) -> None:
    code = f"import {project.name}; {project.name}.train({str(folder)!r}, **{parameters!r})"
    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("serving")
    assert build(NOTEBOOK, out, name="serving", api=True).status is Status.WRITTEN
    project = out / "serving"
    train(project, out / "artifacts", project, weight=3)
    return project, out / "artifacts"


@contextmanager
def app_of(project: Path, artifacts: Path) -> Iterator[Any]:
    """The generated app, imported here with NB2PROD_ARTIFACTS set; unloaded afterwards."""
    names = [project.name, f"{project.name}.api"]
    sys.path.insert(0, str(project))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NB2PROD_ARTIFACTS", str(artifacts))
            from importlib import import_module

            yield import_module(names[1]).app
    finally:
        sys.path.remove(str(project))
        for name in [n for n in sys.modules if n.split(".")[0] == project.name]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def client(served: tuple[Path, Path]) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with app_of(*served) as app:
        yield TestClient(app)


def test_a_function_answers_its_json_arguments(client: Any) -> None:
    response = client.post("/score", json=GOOD)
    assert response.status_code == 200, response.text
    assert response.json() == 19.0  # weight 3 as trained: 3 * (good 3 + value 2) + 4 stars
    flagged = client.post("/flag", json={"review": {"text": "bad", "stars": 1}, "strict": True})
    assert flagged.json() is False


def test_a_batch_answers_an_array_in_order(client: Any) -> None:
    cases = [GOOD, {"review": {"text": "bad", "stars": 1}}, GOOD]
    response = client.post("/score/batch", json=cases)
    assert response.status_code == 200, response.text
    assert response.json() == [19.0, 4.0, 19.0]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        pytest.param({"review": {"text": "x"}}, ["body", "review", "stars"], id="missing"),
        pytest.param({**GOOD, "other": 1}, ["body", "other"], id="unknown"),
        pytest.param(
            {"review": {"text": "x", "stars": "4"}},
            ["body", "review", "stars"],
            id="text for an int",
        ),
        pytest.param(
            {"review": {"text": "x", "stars": 4, "likes": 2}},
            ["body", "review", "likes"],
            id="unknown key of the TypedDict",
        ),
        pytest.param({**GOOD, "strict": "yes"}, ["body", "strict"], id="text for a bool"),
    ],
)
def test_arguments_that_do_not_fit_answer_422(
    client: Any, body: dict[str, Any], where: list[str]
) -> None:
    response = client.post("/flag", json=body)
    assert response.status_code == 422
    assert where in [error["loc"] for error in response.json()["detail"]]


def test_a_batch_beyond_the_limit_answers_413(client: Any) -> None:
    from serving.api import BATCH_LIMIT  # type: ignore[import-not-found]

    response = client.post("/score/batch", json=[GOOD] * (BATCH_LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"at most {BATCH_LIMIT} cases per request; send the rest in other requests"
    }
    assert client.post("/score/batch", json=[{}]).status_code == 422


def test_health_names_the_trained_model(client: Any, served: tuple[Path, Path]) -> None:
    manifest = json.loads((served[1] / "manifest.json").read_text())
    health = client.get("/health").json()
    assert health == {
        "status": "ok",
        "notebook_sha256": manifest["notebook_sha256"],
        "trained": manifest["created"],
        "parameters": {"weight": 3, "threshold": 3.0},
    }


def test_the_docs_show_docstrings_and_the_notebooks_calls(client: Any) -> None:
    docs = client.get("/openapi.json").json()
    score = docs["paths"]["/score"]["post"]
    assert score["description"] == "How much a review says, by the words the training saw."
    body = score["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/ScoreArguments"}
    assert [example["value"] for example in body["examples"].values()] == [
        {"review": {"text": "good value", "stars": 4}},  # cell 11
        {"review": {"text": "great", "stars": 0}},  # the test cell
    ]
    flag = docs["paths"]["/flag"]["post"]["requestBody"]["content"]["application/json"]
    assert next(iter(flag["examples"].values()))["value"] == {
        "review": {"text": "bad", "stars": 1},
        "strict": True,
    }
    review = docs["components"]["schemas"]["Review"]
    assert review["properties"] == {
        "text": {"title": "Text", "type": "string"},
        "stars": {"title": "Stars", "type": "integer"},
    }
    batch = docs["paths"]["/score/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["items"] == {"$ref": "#/components/schemas/ScoreArguments"}
    assert "413" in docs["paths"]["/score/batch"]["post"]["responses"]


def test_run_stays(client: Any) -> None:
    assert client.post("/run", json={"weight": 1.0}).json() == {"words": 6}


# --- a real server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def uvicorn(project: Path, artifacts: Path, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "uvicorn", f"{project.name}.api:app", "--host", HOST]
    command += ["--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": str(project), "NB2PROD_ARTIFACTS": str(artifacts)}
    return subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def listings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The scikit-learn example, built with --api and trained in a process of its own."""
    out = tmp_path_factory.mktemp("listings")
    assert build(EXAMPLE, out, api=True).status is Status.WRITTEN
    project = out / "listings_deploy"
    train(project, out / "artifacts", EXAMPLE.parent)
    return project, out / "artifacts"


HARBOUR = {
    "neighbourhood": "harbour",
    "bedrooms": 2,
    "bathrooms": 1,
    "price": 95.0,
    "distance_km": 1.2,
    "review_score": 4.7,
    "instant_book": True,
}


@pytest.mark.slow
def test_uvicorn_serves_the_trained_model_on_localhost(listings: tuple[Path, Path]) -> None:
    project, artifacts = listings
    port = free_port()
    server = uvicorn(project, artifacts, port)
    try:
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                health = httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        assert health.json()["parameters"]["seed"] == 42
        answer = httpx.post(f"{url}/predict", json={"listing": HARBOUR}, timeout=30)
        assert answer.status_code == 200
        assert repr(answer.json()) == "0.9461708512303696"  # what cell 21 showed
        batch = httpx.post(f"{url}/predict/batch", json=[{"listing": HARBOUR}] * 3, timeout=30)
        assert batch.json() == [answer.json()] * 3
        promote = httpx.post(f"{url}/should_promote", json={"listing": HARBOUR}, timeout=30)
        assert promote.json() is True
        wrong = httpx.post(f"{url}/predict", json={"listing": {**HARBOUR, "bedrooms": 2.5}})
        assert wrong.status_code == 422
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["missing", "tampered"])
def test_unusable_artifacts_stop_the_start_in_one_line(
    listings: tuple[Path, Path], tmp_path: Path, damage: str
) -> None:
    project, artifacts = listings
    folder = tmp_path / "artifacts"
    if damage == "tampered":
        shutil.copytree(artifacts, folder)
        (folder / "model.joblib").write_bytes(b"not the model")
    server = uvicorn(project, folder, free_port())
    try:
        _, errors = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 1
    assert "Traceback" not in errors
    expected = {
        "missing": f"listings_deploy.api: cannot start: {folder.as_posix()}/manifest.json: missing",
        "tampered": f"listings_deploy.api: cannot start: {folder.as_posix()}/model.joblib: sha256 mismatch",
    }[damage]
    assert errors.strip().splitlines()[-1].startswith(expected), errors


@pytest.mark.slow
@pytest.mark.parametrize("limit", ["1k", "0", "-5"])
def test_a_bad_batch_limit_stops_the_start_in_one_line(
    listings: tuple[Path, Path], limit: str
) -> None:
    project, artifacts = listings
    env = {**os.environ, "PYTHONPATH": str(project), "NB2PROD_ARTIFACTS": str(artifacts)}
    started = subprocess.run(
        [sys.executable, "-c", "import listings_deploy.api"],
        cwd=project,
        env={**env, "NB2PROD_BATCH_LIMIT": limit},
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 1
    assert started.stderr.strip() == (
        "listings_deploy.api: cannot start: $NB2PROD_BATCH_LIMIT must be a positive whole "
        f"number, not {limit!r}"
    )


@pytest.mark.slow
def test_the_demo_starts_the_api_asks_once_and_stops_it(listings: tuple[Path, Path]) -> None:
    """examples/serve_once.py, the last step of `make demo`."""
    project, artifacts = listings
    body = json.dumps({"listing": HARBOUR})
    script = ROOT / "examples" / "serve_once.py"
    done = subprocess.run(
        [sys.executable, str(script), str(project), str(artifacts), "/predict", body],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    health, answer, stopped = done.stdout.splitlines()
    assert health.startswith("GET http://127.0.0.1:") and " -> 200 {" in health
    assert answer.endswith(f"{body} -> 200 0.9461708512303696")
    assert stopped.startswith("stopped the server on http://127.0.0.1:")


ODDS = [
    "parameters: k = 2.0",
    "deploy: import dataclasses\n\n\n@dataclasses.dataclass\nclass Point:\n    x: float\n    y: float",
    "deploy: scale = k * 2",
    "serve: def ratio(x: float) -> float:\n    return scale / x\n\n\n"
    "def echo(value, point: Point | None = None, tags: tuple[str, ...] = ()):\n"
    "    return {'value': value, 'norm': None if point is None else point.x + point.y,"
    " 'tags': list(tags)}",
]


@pytest.fixture(scope="module")
def odds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from notebooks import write_notebook

    folder = tmp_path_factory.mktemp("odds")
    notebook = write_notebook(folder / "odds_deploy.ipynb", ODDS)
    assert build(notebook, folder / "out", api=True).status is Status.WRITTEN
    project = folder / "out" / "odds_deploy"
    train(project, folder / "artifacts", project)
    with app_of(project, folder / "artifacts") as app:
        yield TestClient(app, raise_server_exceptions=False)


def test_an_exception_in_the_function_answers_500(odds: Any) -> None:
    assert odds.post("/ratio", json={"x": 2}).json() == 2.0  # an int does for a float
    failed = odds.post("/ratio", json={"x": 0})
    assert failed.status_code == 500
    assert failed.json() == {"error": "ZeroDivisionError: float division by zero"}
    assert odds.post("/ratio/batch", json=[{"x": 1}, {"x": 0}]).status_code == 500


def test_dataclasses_tuples_and_unannotated_arguments(odds: Any) -> None:
    body = {"value": [{"any": "json"}], "point": {"x": 1, "y": 2.5}, "tags": ["a", "b"]}
    assert odds.post("/echo", json=body).json() == {
        "value": [{"any": "json"}],
        "norm": 3.5,
        "tags": ["a", "b"],
    }
    assert odds.post("/echo", json={"value": None}).json() == {
        "value": None,
        "norm": None,
        "tags": [],
    }
    assert odds.post("/echo", json={"value": 1, "point": {"x": 1}}).status_code == 422
    assert odds.post("/echo", json={"value": 1, "tags": [1]}).status_code == 422
