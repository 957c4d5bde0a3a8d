"""train() and load(): artifacts saved after the last deploy cell, checked before unpickling,
loaded in fresh processes; the listings example trains a real scikit-learn model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from nb2prod.build import Status

from conftest import ROOT, build
from notebooks import write_notebook
from reference import run_namespace

EXAMPLE = ROOT / "examples" / "listings_deploy.ipynb"
HARBOUR = {
    "neighbourhood": "harbour",
    "bedrooms": 2,
    "bathrooms": 1,
    "price": 95.0,
    "distance_km": 1.2,
    "review_score": 4.7,
    "instant_book": True,
}
SUBURBS = {**HARBOUR, "neighbourhood": "suburbs", "bedrooms": 4, "price": 310.0}


def fresh(project: Path, code: str, cwd: Path | None = None) -> Any:
    """Run `code` in a new Python process that imports the generated project; the JSON value
    its last line prints."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd or project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_failure(project: Path, code: str) -> str:
    """Run `code` in a new process that must fail; its stderr."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0, done.stdout
    return done.stderr


@pytest.fixture(scope="module")
def listings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The example built, and trained in a process of its own: (project, artifacts)."""
    out = tmp_path_factory.mktemp("listings")
    assert build(EXAMPLE, out).status is Status.WRITTEN
    project = out / "listings_deploy"
    artifacts = out / "artifacts"
    fresh(
        project,
        f"""
        import json
        import listings_deploy
        manifest = listings_deploy.train({str(artifacts)!r})
        print(json.dumps(sorted(manifest["artifacts"])))
        """,
        cwd=EXAMPLE.parent,
    )
    return project, artifacts


@pytest.fixture(scope="module")
def namespace() -> dict[str, Any]:
    """The example's names after its parameters, deploy and serve cells ran in order."""
    return run_namespace(EXAMPLE)


def test_a_fresh_process_serves_what_the_notebook_computes(
    listings: tuple[Path, Path], namespace: dict[str, Any]
) -> None:
    """load(dir).predict(x) in a new process equals the notebook's predict(x) after its
    deploy cells ran, and what the notebook showed for it (cell 21)."""
    project, artifacts = listings
    served = fresh(
        project,
        f"""
        import json
        import listings_deploy
        service = listings_deploy.load({str(artifacts)!r})
        print(json.dumps([service.predict({HARBOUR!r}), service.should_promote({SUBURBS!r})]))
        """,
    )
    assert served == [namespace["predict"](HARBOUR), namespace["should_promote"](SUBURBS)]
    assert repr(served[0]) == "0.9461708512303696"  # recorded by the notebook in cell 21


def test_the_refit_after_the_evaluation_is_what_is_saved(
    listings: tuple[Path, Path], namespace: dict[str, Any]
) -> None:
    """Cell 18 refits the model in place on every listing; train() saves it so."""
    project, artifacts = listings
    coefficients = fresh(
        project,
        f"""
        import json
        import joblib
        model = joblib.load({str(artifacts / "model.joblib")!r})
        print(json.dumps(model[-1].coef_.tolist()))
        """,
    )
    assert coefficients == namespace["model"][-1].coef_.tolist()
    assert len(namespace["y"]) == 786  # every listing, not the training split


def test_the_manifest_records_where_the_artifacts_come_from(listings: tuple[Path, Path]) -> None:
    _, artifacts = listings
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["package"] == "listings_deploy"
    assert manifest["notebook"] == "examples/listings_deploy.ipynb"
    assert len(manifest["notebook_sha256"]) == 64
    assert manifest["versions"] == {"listings_deploy": "0.1.0", "nb2prod": "0.1.0"}
    assert manifest["parameters"] == {
        "data_path": "data/2024-05-01_listings.csv",
        "test_size": 0.25,
        "seed": 42,
        "C": 1.0,
        "threshold": 0.5,
    }
    assert manifest["cells"] == {"model": "cell 18", "threshold": "parameter"}
    assert set(manifest["distributions"]) == {"pandas", "scikit-learn", "joblib"}  # model.joblib
    assert manifest["python"].count(".") == 2
    model = manifest["artifacts"]["model"]
    assert model["type"] == "sklearn.pipeline.Pipeline"
    assert model["file"] == "model.joblib"
    assert model["size"] == (artifacts / "model.joblib").stat().st_size
    assert manifest["artifacts"]["threshold"]["serializer"] == "json"


def copy_of(artifacts: Path, tmp_path: Path) -> Path:
    copied = tmp_path / "artifacts"
    shutil.copytree(artifacts, copied)
    return copied


LOAD = """
import listings_deploy
listings_deploy.load({folder!r})
"""


def test_a_tampered_file_is_refused_before_anything_is_unpickled(
    listings: tuple[Path, Path], tmp_path: Path
) -> None:
    project, artifacts = listings
    folder = copy_of(artifacts, tmp_path)
    # A pickle that would run code as it loads: it must never be opened by pickle.
    marker = tmp_path / "unpickled"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR."
    (folder / "model.joblib").write_bytes(payload.encode())
    error = fresh_failure(project, LOAD.format(folder=str(folder)))
    assert "ArtifactError" in error
    assert "model.joblib: sha256 mismatch" in error
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda folder: (folder / "threshold.json").unlink(),
            "threshold.json: missing",
            id="a missing file",
        ),
        pytest.param(
            lambda folder: _edit_manifest(folder, package="other_deploy"),
            "saved by package `other_deploy`, not `listings_deploy`",
            id="another package",
        ),
        pytest.param(
            lambda folder: _edit_manifest(folder, notebook_sha256="0" * 64),
            "saved from another version of the notebook",
            id="another notebook version",
        ),
        pytest.param(
            lambda folder: (folder / "manifest.json").unlink(),
            "manifest.json: missing",
            id="no manifest",
        ),
    ],
)
def test_untrusted_folders_are_one_clear_error(
    listings: tuple[Path, Path], tmp_path: Path, change: Any, message: str
) -> None:
    project, artifacts = listings
    folder = copy_of(artifacts, tmp_path)
    change(folder)
    error = fresh_failure(project, LOAD.format(folder=str(folder)))
    last = error.strip().splitlines()[-1]
    assert last.startswith("listings_deploy.runtime.ArtifactError: "), error
    assert message in last


def _edit_manifest(folder: Path, **fields: object) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(fields)
    path.write_text(json.dumps(manifest))


def test_another_library_version_is_a_warning(listings: tuple[Path, Path], tmp_path: Path) -> None:
    project, artifacts = listings
    folder = copy_of(artifacts, tmp_path)
    _edit_manifest(folder, distributions={"scikit-learn": "0.0.1", "pandas": None})
    warned = fresh(
        project,
        f"""
        import json, warnings
        import listings_deploy
        from listings_deploy.runtime import ArtifactVersionWarning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            service = listings_deploy.load({str(folder)!r})
        print(json.dumps([str(w.message) for w in caught if w.category is ArtifactVersionWarning]))
        """,
    )
    assert len(warned) == 1
    assert "saved with scikit-learn 0.0.1" in warned[0]


SMALL = [
    "parameters: broken = False\nrounds = 2",
    "deploy: class Counter:\n    def __init__(self):\n        self.seen = []\n\n"
    "    def fit(self, values):\n        self.seen.extend(values)\n        return self",
    "deploy: counter = Counter().fit([1, 2])\nhook = (lambda x: x) if broken else abs",
    "deploy: total = len(counter.seen)",
    "deploy: for _ in range(rounds):\n    counter.fit([0])",
    "serve: def score(x: int) -> int:\n    return hook(x) + len(counter.seen)",
]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    notebook = write_notebook(tmp_path / "small_deploy.ipynb", SMALL)
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    return tmp_path / "out" / "small_deploy"


def test_changes_in_place_by_later_cells_are_saved(small: Path, tmp_path: Path) -> None:
    """The loop of cell 5 refits `counter` in place; a class the notebook defines loads in a
    new process from the package."""
    fresh(
        small,
        f"import small_deploy; small_deploy.train({str(tmp_path / 'a')!r}, rounds=3)\nprint(1)",
    )
    served = fresh(
        small,
        f"""
        import json, small_deploy
        service = small_deploy.load({str(tmp_path / "a")!r})
        print(json.dumps([service.score(-4), type(small_deploy.pipeline.Counter()).__module__]))
        """,
    )
    assert served == [4 + 5, "small_deploy.pipeline"]


def test_a_value_that_cannot_be_saved_names_it_and_leaves_the_folder(
    small: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "a"
    fresh(small, f"import small_deploy; small_deploy.train({str(folder)!r})\nprint(1)")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    error = fresh_failure(
        small, f"import small_deploy; small_deploy.train({str(folder)!r}, broken=True)"
    )
    last = error.strip().splitlines()[-1]
    assert last.startswith("small_deploy.runtime.ArtifactError: cannot save `hook` (cell 3): ")
    assert "lambda" in last
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_train_reports_sizes_and_warns_about_large_artifacts(small: Path, tmp_path: Path) -> None:
    reported = fresh(
        small,
        f"""
        import contextlib, io, json, warnings
        import small_deploy
        from small_deploy import runtime
        runtime.LARGE_ARTIFACT = 10
        log = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(log):
            warnings.simplefilter("always")
            small_deploy.train({str(tmp_path / "a")!r})
        large = [str(w.message) for w in caught if w.category is runtime.ArtifactSizeWarning]
        print(json.dumps([log.getvalue().splitlines(), large]))
        """,
    )
    lines, large = reported
    assert [line.split(":")[0] for line in lines] == ["saved counter", "saved hook"]
    assert lines[0].endswith("counter.joblib (" + lines[0].rsplit("(", 1)[1])
    assert any("`counter` takes" in warning for warning in large), large


GENERATED = ROOT / "fixtures" / "serving" / "input.ipynb"


def test_the_generated_tests_check_the_service_against_the_notebook(tmp_path: Path) -> None:
    """One train() per session, a test per literal call of a serving function (with the text
    the cell showed), and the API's tests; a factory that strays from the notebook fails them."""
    from conftest import run_generated_tests

    assert build(GENERATED, tmp_path, name="serving", api=True).status is Status.WRITTEN
    project = tmp_path / "serving"
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--co", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for name in [
        "test_train_saves_what_the_serving_functions_read",
        "test_served_score_cell_11_1",
        "test_served_flag_cell_12_2",
        "test_served_score_cell_14_3",
        "test_api_score_answers_as_the_service",
        "test_api_score_batch_has_a_limit",
        "test_api_flag_refuses_unknown_arguments",
        "test_api_health_names_the_trained_model",
    ]:
        assert f"::{name}" in listed, listed
    done = run_generated_tests(project)
    assert done.returncode == 0, done.stdout + done.stderr
    pipeline = project / "serving" / "pipeline.py"
    text = pipeline.read_text()
    factory = text.index("def serving(")
    strayed = text[:factory] + text[factory:].replace("weight * sum", "(weight + 1) * sum", 1)
    pipeline.write_text(strayed)
    done = run_generated_tests(project)
    assert done.returncode == 1
    assert "FAILED tests/test_serving.py::test_served_score_cell_11_1" in done.stdout


def test_a_pipeline_with_top_level_await_trains_on_one_event_loop(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "await_deploy.ipynb",
        [
            "parameters: n = 3",
            "deploy: import asyncio\n\n\nasync def fetch(x):\n    await asyncio.sleep(0)\n"
            "    return x * 2",
            "deploy: table = {i: await fetch(i) for i in range(n)}",
            "serve: def lookup(key: int) -> int:\n    return table.get(key, -1)",
            "deploy: len(table)",
        ],
    )
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    project = tmp_path / "out" / "await_deploy"
    folder = str(tmp_path / "a")
    code = f"import await_deploy; await_deploy.train({folder!r}, n=5)\nprint(1)"
    fresh(project, code)
    served = fresh(
        project,
        f"import await_deploy\nservice = await_deploy.load({folder!r})\n"
        "print([service.lookup(4), service.lookup(9)])",
    )
    assert served == [8, -1]


CODE_IN_STEPS = [
    "deploy: try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
    "text = json.dumps([1])",
    "deploy: import math as m\nimport json\nout = json.loads(text)",
    "deploy: import cmath as m\nfactor = len(out) + 2\nscale = lambda v: v * factor",
    "deploy: try:\n    calls\nexcept NameError:\n    calls = 0\n\n\ndef tick(x):\n"
    "    global calls\n    calls += 1\n    return x\n\n\nvals = [tick(i) for i in range(3)]",
    "serve: def predict(x: int) -> str:\n    return json.dumps([scale(x), m.sqrt(-x).imag, calls])",
]


@pytest.mark.parametrize("awaits", [False, True], ids=["plain", "top-level await"])
def test_kept_imports_and_lambdas_are_code_and_train_starts_module_state_afresh(
    tmp_path: Path, awaits: bool
) -> None:
    """Imports kept inside steps and a lambda are repeated by the factory, so a fresh process
    serves them; `calls`, which `tick` rebinds with `global`, is unbound at the start of every
    train(), as run() has it, so training twice in one process saves the same value."""
    cells = [
        *CODE_IN_STEPS,
        *(["deploy: import asyncio\nawait asyncio.sleep(0)"] if awaits else []),
    ]
    notebook = write_notebook(tmp_path / "code_deploy.ipynb", cells)
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    project = tmp_path / "out" / "code_deploy"
    folders = [str(tmp_path / "a"), str(tmp_path / "b")]
    fresh(project, f"import code_deploy\nfor f in {folders!r}:\n    code_deploy.train(f)\nprint(1)")
    served = fresh(
        project,
        f"import json, code_deploy\n"
        f"print(json.dumps([code_deploy.load(f).predict(4) for f in {folders!r}]))",
    )
    assert served == [json.dumps([12, 2.0, 3])] * 2
