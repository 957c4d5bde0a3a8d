"""The runtime generated packages ship: JSON conversion, serializers, artifacts, store, steps."""

from __future__ import annotations

import ast
import asyncio
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from nb2prod import runtime
from nb2prod.runtime import (
    ArtifactError,
    ArtifactVersionWarning,
    Pipeline,
    StepError,
    StepSpec,
    Store,
    configured_store,
    dumps,
    json_value,
    load_artifacts,
    load_value,
    path_component,
    read_manifest,
    run_step,
    save_artifacts,
    save_value,
    typed,
)

RUNTIME = Path(runtime.__file__)
RUN_ID = "manual__2024-05-01T10:00:00+00:00"
NOTEBOOK_HASH = "ab" * 32


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


# --- JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]], id="numpy array as nested lists"
        ),
        pytest.param(
            np.array([1.0, np.nan, np.inf]),
            [1.0, None, None],
            id="NaN and inf in an array are null",
        ),
        pytest.param(np.int64(3), 3, id="numpy integer as int"),
        pytest.param(np.float32(1.5), 1.5, id="numpy float as float"),
        pytest.param(np.bool_(True), True, id="numpy bool as bool"),
        pytest.param(np.float64("nan"), None, id="numpy NaN scalar is null"),
        pytest.param(float("-inf"), None, id="infinity is null"),
        pytest.param(
            np.datetime64("2024-05-01T10:00", "ns"),
            "2024-05-01T10:00:00.000000000",
            id="numpy datetime as ISO text, not nanoseconds",
        ),
        pytest.param(
            np.array(["2024-05-01", "NaT"], dtype="datetime64[D]"),
            ["2024-05-01", None],
            id="numpy date array with NaT",
        ),
        pytest.param(np.timedelta64(90, "s"), 90.0, id="numpy duration in seconds"),
        pytest.param(
            pd.DataFrame({"x": [1.0, np.nan], "when": pd.to_datetime(["2024-05-01", None])}),
            [{"x": 1.0, "when": "2024-05-01T00:00:00"}, {"x": None, "when": None}],
            id="frame as records, NaN and NaT null",
        ),
        pytest.param(pd.Series([1, 2], index=["a", "b"]), [1, 2], id="series as list"),
        pytest.param(pd.Index(["a", "b"]), ["a", "b"], id="index as list"),
        pytest.param(pd.Categorical(["a", "b", "a"]), ["a", "b", "a"], id="categorical as list"),
        pytest.param(pd.array([1, None], dtype="Int64"), [1, None], id="nullable integers with NA"),
        pytest.param(pd.NA, None, id="pandas NA is null"),
        pytest.param(pd.NaT, None, id="NaT is null, not 'NaT'"),
        pytest.param(
            pd.Timestamp("2024-05-01 10:00"), "2024-05-01T10:00:00", id="Timestamp as ISO"
        ),
        pytest.param(pd.Timedelta("2min"), 120.0, id="pandas duration in seconds"),
        pytest.param(
            datetime.datetime(2024, 5, 1, 10, 30), "2024-05-01T10:30:00", id="datetime as ISO"
        ),
        pytest.param(datetime.date(2024, 5, 1), "2024-05-01", id="date as ISO"),
        pytest.param(datetime.time(10, 30), "10:30:00", id="time as ISO"),
        pytest.param(datetime.timedelta(hours=1), 3600.0, id="timedelta in seconds"),
        pytest.param({3, 1, 2}, [1, 2, 3], id="set sorted"),
        pytest.param(frozenset({"b", "a"}), ["a", "b"], id="frozenset sorted"),
        pytest.param({1, "a"}, ["a", 1], id="unsortable set ordered by JSON text"),
        pytest.param((1, (2, 3)), [1, [2, 3]], id="tuples as lists"),
        pytest.param(
            {1: "a", None: "b", pd.Timestamp("2024-05-01"): "c"},
            {"1": "a", "None": "b", "2024-05-01T00:00:00": "c"},
            id="dict keys as text, dates as ISO",
        ),
        pytest.param({"x": np.arange(2)}, {"x": [0, 1]}, id="nested numpy values"),
        pytest.param(Opaque(), "<Opaque>", id="other objects as repr"),
        pytest.param(1 + 2j, "(1+2j)", id="complex as repr"),
        pytest.param(b"ab", "b'ab'", id="bytes as repr"),
    ],
)
def test_json_value(value: object, expected: object) -> None:
    assert json_value(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"a": [1, 2.5, None, True, "x"]}, id="plain JSON"),
        pytest.param([], id="empty list"),
        pytest.param("text", id="text"),
    ],
)
def test_json_value_leaves_json_unchanged(value: object) -> None:
    assert json_value(value) == value
    assert json_value(json_value(value)) == json_value(value)


def test_dumps_gives_one_strict_json_document() -> None:
    text = dumps({"a": np.array([np.nan, 1.0]), "when": pd.Timestamp("2024-05-01"), "s": {2, 1}})
    assert json.loads(text) == {"a": [None, 1.0], "when": "2024-05-01T00:00:00", "s": [1, 2]}
    assert "NaN" not in text and "\n" not in text


# --- one module that stands alone ------------------------------------------------------------


def test_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(RUNTIME.read_text(), feature_version=(3, 10))  # generated packages: >= 3.10
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and n.module}
    assert modules - {"__future__"} <= sys.stdlib_module_names


def test_module_works_copied_into_a_package_without_heavy_imports(tmp_path: Path) -> None:
    """Copied into a package, as generated packages ship it, JSON output imports nothing heavy."""
    (tmp_path / "churn_deploy").mkdir()
    (tmp_path / "churn_deploy" / "__init__.py").write_text("")
    (tmp_path / "churn_deploy" / "runtime.py").write_text(RUNTIME.read_text())
    code = textwrap.dedent(
        """
        import sys
        from churn_deploy.runtime import dumps
        print(dumps({"a": (1, 2), "b": {3}}))
        heavy = {"numpy", "pandas", "joblib", "fsspec", "nb2prod", "importlib.metadata"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ['{"a": [1, 2], "b": [3]}', "[]"]


def python_3_10() -> str | None:
    """A Python 3.10 interpreter, the oldest that generated packages support, if one runs here."""
    # A pyenv shim on the PATH runs only the versions pyenv is told to; the binaries always run.
    pyenv = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))]
    for candidate in [shutil.which("python3.10"), *pyenv]:
        probe = [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"]
        if candidate and subprocess.run(probe, capture_output=True, text=True).stdout == "True\n":
            return candidate
    return None


PYTHON_3_10 = python_3_10()


@pytest.mark.skipif(PYTHON_3_10 is None, reason="no Python 3.10 here")
def test_module_runs_on_python_3_10_with_the_standard_library_alone(tmp_path: Path) -> None:
    """-S leaves site-packages out: no numpy, pandas, joblib or fsspec to lean on."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(RUNTIME.parent)!r})
        import datetime, runtime
        print(runtime.dumps({{"when": datetime.date(2024, 5, 1), "s": {{2, 1}}}}))
        runtime.save_artifacts("art", {{"config": {{"a": [1]}}}}, package="p")
        print(runtime.load_artifacts("art", package="p"))
        """
    )
    command = [str(PYTHON_3_10), "-S", "-c", code]
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        '{"when": "2024-05-01", "s": [1, 2]}',
        "{'config': {'a': [1]}}",
    ]


# --- one value in a file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "serializer"),
    [
        pytest.param({"a": [1, 2.5, None, True, "é"]}, "json", id="plain builtins as JSON"),
        pytest.param({"a": (1, 2)}, "joblib", id="a tuple would come back a list: joblib"),
        pytest.param({1: "a"}, "joblib", id="an int key would come back text: joblib"),
        pytest.param([float("inf")], "joblib", id="infinity is not JSON: joblib"),
        pytest.param(np.float64(1.5), "joblib", id="a numpy float would come back a float: joblib"),
        pytest.param(np.arange(6.0).reshape(2, 3), "npy", id="float array as .npy"),
        pytest.param(np.array(["a", "bc"]), "npy", id="text array as .npy"),
        pytest.param(np.array(["2024-05-01"], dtype="datetime64[ns]"), "npy", id="dates as .npy"),
        pytest.param(np.array([{"a": 1}], dtype=object), "joblib", id="object array: joblib"),
        pytest.param(
            np.ma.masked_array([1, 2], mask=[False, True]), "joblib", id="array subclass: joblib"
        ),
        pytest.param(pd.DataFrame({"a": [1, 2]}), "joblib", id="frame: joblib"),
    ],
)
def test_serializer_choice_round_trips(tmp_path: Path, value: object, serializer: str) -> None:
    artifact = save_value(tmp_path, "value", value)
    assert artifact.serializer == serializer
    assert artifact.file == f"value.{serializer}"
    loaded = load_value(tmp_path, artifact)
    assert type(loaded) is type(value)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(loaded, value)
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, value)
    else:
        assert loaded == value


def test_saved_value_records_its_file(tmp_path: Path) -> None:
    model = fitted_model()
    artifact = save_value(tmp_path, "model", model)
    data = (tmp_path / "model.joblib").read_bytes()
    assert artifact.to_json() == {
        "file": "model.joblib",
        "sha256": hashlib.sha256(data).hexdigest(),
        "type": "sklearn.linear_model._logistic.LogisticRegression",
        "size": len(data),
        "serializer": "joblib",
    }
    loaded = load_value(tmp_path, artifact)
    assert isinstance(loaded, LogisticRegression)
    np.testing.assert_array_equal(loaded.predict(FEATURES), model.predict(FEATURES))
    assert sorted(os.listdir(tmp_path)) == ["model.joblib"]  # no temporary file left


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(threading.Lock(), "cannot pickle '_thread.lock' object", id="a lock"),
        pytest.param((i for i in range(3)), "cannot pickle 'generator' object", id="a generator"),
    ],
)
def test_unsaveable_value_is_named(tmp_path: Path, value: object, reason: str) -> None:
    with pytest.raises(ArtifactError, match=f"^cannot save `conn`: {reason}") as caught:
        save_value(tmp_path, "conn", value)
    assert caught.value.name == "conn"
    assert os.listdir(tmp_path) == []


def make_closure(factor: int) -> Any:
    def scaled(values: list[int]) -> list[int]:
        return [v * factor for v in values]

    return scaled


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(make_closure(3), id="a function made inside another"),
        pytest.param(lambda values: [v * 3 for v in values], id="a lambda"),
    ],
)
def test_what_pickle_can_only_name_is_saved_by_value(tmp_path: Path, value: Any) -> None:
    """A notebook's step returns a closure that a later step calls: cloudpickle saves it."""
    artifact = save_value(tmp_path, "scaled", value)
    assert (artifact.file, artifact.serializer) == ("scaled.pkl", "cloudpickle")
    loaded: Any = load_value(tmp_path, artifact)
    assert loaded([1, 2]) == [3, 6]
    assert sorted(os.listdir(tmp_path)) == ["scaled.pkl"]  # joblib's attempt left nothing


def test_without_cloudpickle_a_closure_is_unsaveable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "cloudpickle" else real(name, *a),
    )
    with pytest.raises(ArtifactError, match=r"^cannot save `scaled`: Can.t pickle"):
        save_value(tmp_path, "scaled", make_closure(2))


def test_file_names_never_clash_with_the_manifest_or_by_case(tmp_path: Path) -> None:
    manifest = save_artifacts(
        tmp_path / "art", {"manifest": {"a": 1}, "Model": 1, "model": 2}, package="p"
    )
    files = [entry["file"] for entry in manifest["artifacts"].values()]
    assert files == ["manifest-2.json", "Model.json", "model-2.json"]
    assert load_artifacts(tmp_path / "art", package="p") == {
        "manifest": {"a": 1},
        "Model": 1,
        "model": 2,
    }


# --- an artifacts folder ---------------------------------------------------------------------

FEATURES = np.arange(10.0).reshape(-1, 1)


def fitted_model() -> LogisticRegression:
    return LogisticRegression().fit(FEATURES, [0] * 5 + [1] * 5)


def training_values() -> dict[str, object]:
    return {
        "model": fitted_model(),
        "weights": np.linspace(0.0, 1.0, 5),
        "table": pd.DataFrame({"id": [1, 2], "when": pd.to_datetime(["2024-05-01", "2024-05-02"])}),
        "config": {"threshold": 0.5, "labels": ["no", "yes"]},
    }


def save(folder: Path, values: dict[str, object] | None = None, **options: Any) -> dict[str, Any]:
    options.setdefault("package", "churn_deploy")
    options.setdefault("notebook_hash", NOTEBOOK_HASH)
    return save_artifacts(folder, training_values() if values is None else values, **options)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_manifest_fields(tmp_path: Path) -> None:
    folder = tmp_path / "artifacts"
    fields = {
        "notebook": "notebooks/churn_deploy.ipynb",
        "package_version": "0.1.0",
        "nb2prod": "0.1.0",
        "parameters": {"n_customers": 120, "sizes": (1, 2)},
    }
    manifest = save(folder, fields=fields, distributions=["numpy", "no-such-distribution"])
    assert json.loads((folder / "manifest.json").read_text()) == manifest == read_manifest(folder)
    assert manifest["format"] == 1
    assert manifest["package"] == "churn_deploy"
    assert manifest["notebook_sha256"] == NOTEBOOK_HASH
    assert manifest["parameters"] == {"n_customers": 120, "sizes": [1, 2]}
    assert manifest["notebook"] == "notebooks/churn_deploy.ipynb"
    assert manifest["python"] == ".".join(map(str, sys.version_info[:3]))
    assert datetime.datetime.fromisoformat(manifest["created"]).tzinfo is not None
    # numpy and joblib: the arrays' and the models' files need them to load
    assert manifest["distributions"] == {
        "numpy": importlib.metadata.version("numpy"),
        "no-such-distribution": None,
        "joblib": importlib.metadata.version("joblib"),
    }
    assert {n: e["serializer"] for n, e in manifest["artifacts"].items()} == {
        "model": "joblib",
        "weights": "npy",
        "table": "joblib",
        "config": "json",
    }
    for entry in manifest["artifacts"].values():
        data = (folder / entry["file"]).read_bytes()
        assert (entry["sha256"], entry["size"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert sorted(os.listdir(tmp_path)) == ["artifacts"]


def test_reserved_manifest_fields_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved for the runtime: artifacts"):
        save(tmp_path / "art", fields={"artifacts": 1})


def test_round_trip(tmp_path: Path) -> None:
    save(tmp_path / "art")
    loaded = load_artifacts(tmp_path / "art", package="churn_deploy", notebook_hash=NOTEBOOK_HASH)
    assert_training_values(loaded)


def assert_training_values(loaded: dict[str, Any]) -> None:
    expected = training_values()
    assert list(loaded) == list(expected)
    np.testing.assert_array_equal(
        loaded["model"].predict(FEATURES), fitted_model().predict(FEATURES)
    )
    np.testing.assert_array_equal(loaded["weights"], expected["weights"])
    pd.testing.assert_frame_equal(loaded["table"], expected["table"])
    assert loaded["config"] == expected["config"]


def test_load_in_a_fresh_process(tmp_path: Path) -> None:
    save(tmp_path / "art")
    code = textwrap.dedent(
        f"""
        import numpy as np
        from nb2prod.runtime import dumps, load_artifacts
        values = load_artifacts({str(tmp_path / "art")!r}, package="churn_deploy")
        features = np.arange(10.0).reshape(-1, 1)
        print(dumps({{"predictions": values["model"].predict(features), **values}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # The model itself comes out as its repr, the same in both processes.
    expected = {"predictions": fitted_model().predict(FEATURES), **training_values()}
    assert json.loads(out.stdout) == json.loads(dumps(expected))


def test_replaces_the_folder_whole(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    save(folder)
    save(folder, {"only": [1]})
    assert sorted(os.listdir(folder)) == ["manifest.json", "only.json"]
    assert load_artifacts(folder, package="churn_deploy") == {"only": [1]}


class Interrupting:
    def __reduce__(self) -> Any:
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        pytest.param(threading.Lock(), ArtifactError, id="a lock midway"),
        pytest.param((i for i in ()), ArtifactError, id="a generator midway"),
        pytest.param(Interrupting(), KeyboardInterrupt, id="an interrupt midway"),
    ],
)
def test_failed_save_leaves_the_previous_folder_as_it_was(
    tmp_path: Path, bad: object, error: type[BaseException]
) -> None:
    folder = tmp_path / "art"
    save(folder)
    before = snapshot(folder)
    with pytest.raises(error):
        save(folder, {"first": [1, 2], "conn": bad, "last": np.arange(3)})
    assert snapshot(folder) == before
    assert os.listdir(tmp_path) == ["art"]


def test_failed_first_save_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot save `conn`") as caught:
        save(tmp_path / "art", {"first": 1, "conn": threading.Lock()})
    assert caught.value.name == "conn"
    assert os.listdir(tmp_path) == []


def test_full_disk_leaves_the_previous_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "art"
    save(folder)
    before = snapshot(folder)
    calls = []

    def fsync(descriptor: int) -> None:
        calls.append(descriptor)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(ArtifactError, match="No space left on device"):
        save(folder)
    assert snapshot(folder) == before
    assert os.listdir(tmp_path) == ["art"]


def test_refuses_to_replace_a_folder_that_is_not_an_artifacts_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match=re.escape("holds files but no manifest.json")):
        save(tmp_path)
    assert os.listdir(tmp_path) == ["notes.txt"]


# --- nothing is unpickled before every check passes ------------------------------------------

LOADED: list[str] = []


def record_load(token: str) -> str:
    LOADED.append(token)
    return token


class Tracer:
    """Unpickled as a call to record_load: LOADED says whether anything was unpickled."""

    def __reduce__(self) -> Any:
        return record_load, ("unpickled",)


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[Path]:
    """An artifacts folder whose first value records being unpickled."""
    folder = tmp_path / "art"
    save(folder, {"tracer": Tracer(), "model": fitted_model(), "config": {"a": 1}})
    LOADED.clear()
    yield folder
    LOADED.clear()


def edit_manifest(folder: Path, **changes: Any) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_tracer_records_unpickling(traced: Path) -> None:
    assert load_artifacts(traced, package="churn_deploy")["tracer"] == "unpickled"
    assert LOADED == ["unpickled"]


def _append(path: Path) -> None:
    with open(path, "ab") as file:
        file.write(b"\0")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        pytest.param(
            lambda f: _append(f / "model.joblib"),
            "art/model.joblib: sha256 mismatch; the file changed since it was saved",
            id="a later file changed",
        ),
        pytest.param(
            lambda f: (f / "tracer.joblib").write_bytes(
                b"x" * (f / "tracer.joblib").stat().st_size
            ),
            "art/tracer.joblib: sha256 mismatch",
            id="same size, other bytes",
        ),
        pytest.param(
            lambda f: (f / "config.json").unlink(), "art/config.json: missing", id="a missing file"
        ),
        pytest.param(
            lambda f: edit_manifest(f, package="other"),
            "art/manifest.json: saved by package `other`, not `churn_deploy`",
            id="another package's manifest",
        ),
        pytest.param(
            lambda f: edit_manifest(f, notebook_sha256="cd" * 32),
            "saved from another version of the notebook (sha256 cdcdcdcdcdcd, this package: abababababab)",
            id="another notebook's manifest",
        ),
        pytest.param(
            lambda f: (f / "manifest.json").unlink(),
            "art/manifest.json: missing: not an artifacts folder",
            id="no manifest",
        ),
        pytest.param(
            lambda f: (f / "manifest.json").write_text('{"format": 1,'),
            "art/manifest.json: not valid JSON",
            id="a truncated manifest",
        ),
        pytest.param(
            lambda f: (f / "manifest.json").write_text('{"artifacts": {}}'),
            "art/manifest.json: not a manifest (no format)",
            id="a manifest without a format",
        ),
        pytest.param(
            lambda f: edit_manifest(f, format=2),
            "manifest format 2 is newer than this runtime's",
            id="a newer manifest format",
        ),
        pytest.param(
            lambda f: edit_manifest(
                f,
                artifacts={
                    "tracer": {
                        **read_manifest(f)["artifacts"]["tracer"],
                        "file": "../tracer.joblib",
                    }
                },
            ),
            "the entry of `tracer` is malformed",
            id="a file outside the folder",
        ),
    ],
)
def test_tampering_is_caught_before_unpickling(traced: Path, tamper: Any, message: str) -> None:
    tamper(traced)
    with pytest.raises(ArtifactError, match=re.escape(message)):
        load_artifacts(traced, package="churn_deploy", notebook_hash=NOTEBOOK_HASH)
    assert LOADED == []


def test_a_different_distribution_version_is_a_warning(traced: Path) -> None:
    edit_manifest(traced, distributions={"numpy": "0.0.1", "no-such-distribution": None})
    installed = importlib.metadata.version("numpy")
    with pytest.warns(ArtifactVersionWarning) as caught:
        values = load_artifacts(traced, package="churn_deploy")
    assert [str(w.message) for w in caught] == [
        f"{traced.as_posix()}/manifest.json: saved with numpy 0.0.1, but {installed} is "
        "installed; the values may load or behave differently: install numpy==0.0.1 or train again"
    ]
    assert caught[0].filename == __file__  # attributed to the caller of load_artifacts
    assert values["config"] == {"a": 1}


def test_a_version_warning_through_load_trained_names_its_caller(traced: Path) -> None:
    """load(), the command line and the API load through load_trained: the warning points at
    their call, not into the runtime."""
    from nb2prod.runtime import load_trained

    edit_manifest(traced, distributions={"numpy": "0.0.1"})
    names = read_manifest(traced)["artifacts"]
    with pytest.warns(ArtifactVersionWarning) as caught:
        load_trained(traced, package="churn_deploy", notebook_hash=NOTEBOOK_HASH, names=names)
    assert [w.filename for w in caught] == [__file__]


# --- the store -------------------------------------------------------------------------------


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "local":
        yield Store(str(tmp_path / "store"))
        return
    root = f"memory://nb2prod-test-{uuid.uuid4().hex}"
    yield Store(root)
    memory = fsspec.filesystem("memory")
    if memory.exists(root):
        memory.rm(root, recursive=True)


@pytest.mark.parametrize(
    "run_id",
    [
        pytest.param(RUN_ID, id="manual run id with : and +"),
        pytest.param("scheduled__2024-05-01T00:00:00+00:00", id="scheduled run id"),
        pytest.param("..", id="parent folder"),
        pytest.param("a/b\\c", id="separators"),
        pytest.param("x" * 300, id="too long"),
        pytest.param("plain_run-1.2", id="already safe"),
    ],
)
def test_path_component(run_id: str) -> None:
    safe = path_component(run_id)
    assert safe == path_component(run_id)
    assert all(c.isalnum() or c in "_.-" for c in safe)
    assert not safe.startswith(".") and len(safe) <= 120
    assert (safe == run_id) == (run_id == "plain_run-1.2")


def test_path_component_keeps_run_ids_apart() -> None:
    ids = ["a:b", "a+b", "a_b", "a b"]
    assert len({path_component(i) for i in ids}) == len(ids)
    with pytest.raises(ValueError):
        path_component("")


def test_store_round_trip(store: Store) -> None:
    values = training_values()
    paths = store.save_step(RUN_ID, "train", values)
    assert list(paths) == list(values)
    for path in paths.values():
        assert path.startswith(("file://", "memory://"))
        assert ":" not in path.split("://", 1)[1] and "+" not in path
        assert f"/{path_component(RUN_ID)}/train/" in path
    assert_training_values(store.load(paths))
    folder = paths["model"].rsplit("/", 1)[0]
    listing = sorted(p.rsplit("/", 1)[1] for p in store.fs.ls(folder, detail=False))
    assert listing == [
        "config.json",
        "manifest.json",
        "model.joblib",
        "table.joblib",
        "weights.npy",
    ]


def test_store_saving_a_step_again_replaces_its_values(store: Store) -> None:
    """A retried task saves its step again: the new values win, no temporary file is left."""
    store.save_step(RUN_ID, "train", {"model": fitted_model(), "n": 1})
    paths = store.save_step(RUN_ID, "train", {"n": 2})
    assert store.load(paths) == {"n": 2}
    folder = paths["n"].rsplit("/", 1)[0]
    names = sorted(p.rsplit("/", 1)[1] for p in store.fs.ls(folder, detail=False))
    assert names == ["manifest.json", "model.joblib", "n.json"]  # no temporary files


def test_store_result(store: Store) -> None:
    value = {"score": np.float64("nan"), "when": pd.Timestamp("2024-05-01")}
    url = store.write_result(RUN_ID, value)
    assert url.endswith(f"/{path_component(RUN_ID)}/result.json")
    with fsspec.open(url, "rt") as file:
        assert file.read() == dumps(value) + "\n"
    assert store.read_result(RUN_ID) == {"score": None, "when": "2024-05-01T00:00:00"}


def test_store_checks_before_unpickling(store: Store) -> None:
    paths = store.save_step(RUN_ID, "train", {"tracer": Tracer(), "config": {"a": 1}})
    LOADED.clear()
    with store.fs.open(fsspec.core.strip_protocol(paths["config"]), "wb") as file:
        file.write(b'{"a": 2}')
    with pytest.raises(ArtifactError, match=re.escape("config.json: sha256 mismatch")):
        store.load(paths)
    assert LOADED == []
    assert store.load({"tracer": paths["tracer"]}) == {"tracer": "unpickled"}


def test_store_refuses_paths_elsewhere(store: Store, tmp_path: Path) -> None:
    elsewhere = Store(str(tmp_path / "elsewhere")).save_step(RUN_ID, "s", {"a": 1})
    with pytest.raises(ArtifactError, match="not a value file of the store"):
        store.load(elsewhere)


def test_store_save_error_names_the_value(store: Store) -> None:
    with pytest.raises(ArtifactError, match="cannot save `conn`") as caught:
        store.save_step(RUN_ID, "connect", {"conn": threading.Lock()})
    assert caught.value.name == "conn"
    folder = f"{store.root}/{path_component(RUN_ID)}/connect"
    assert store.fs.ls(folder, detail=False) == []  # the temporary file is gone


# --- run_step --------------------------------------------------------------------------------


def stored(store: Store, **values: object) -> dict[str, str]:
    return store.save_step(RUN_ID, "parameters", values)


def test_run_step_one_output(store: Store) -> None:
    spec = StepSpec("double", inputs=("n",), outputs=("m",), cells=(3,))
    paths = run_step(lambda n: n * 2, spec, store, RUN_ID, stored(store, n=21, unused=0))
    assert list(paths) == ["m"]
    assert store.load(paths) == {"m": 42}


def test_run_step_several_outputs_positional_in_order(store: Store) -> None:
    spec = StepSpec("split", inputs=("a", "b"), outputs=("difference", "ratio"), cells=(4,))
    paths = run_step(lambda a, b: (a - b, a / b), spec, store, RUN_ID, stored(store, b=2, a=10))
    assert store.load(paths) == {"difference": 8, "ratio": 5.0}


def test_run_step_saves_no_output_that_no_later_task_reads(store: Store) -> None:
    """A fitted model kept only for train(), or a generator only a test reads, is not saved."""
    spec = StepSpec("fit", inputs=("n",), outputs=("m", "hook"), unsaved=("hook",), cells=(3,))
    paths = run_step(lambda n: (n + 1, (i for i in ())), spec, store, RUN_ID, stored(store, n=1))
    assert store.load(paths) == {"m": 2}


def test_unsaved_values_are_outputs() -> None:
    with pytest.raises(ValueError, match="unsaved values that are not outputs"):
        StepSpec("fit", outputs=("m",), unsaved=("other",))


def test_run_step_hands_on_a_value_changed_in_place(store: Store) -> None:
    before = stored(store, items=[1, 2])
    spec = StepSpec("extend", inputs=("items",), changed_in_place=("items",), cells=(5,))
    paths = run_step(lambda items: items.append(3), spec, store, RUN_ID, before)
    assert store.load(paths) == {"items": [1, 2, 3]}
    assert store.load(before) == {"items": [1, 2]}  # the earlier step's value stays as it was


@pytest.mark.parametrize(
    ("spec", "function", "saved"),
    [
        pytest.param(
            StepSpec("report", inputs=("n",), outputs=("summary",), result="summary"),
            lambda n: {"n": np.int64(n)},
            {"summary": {"n": 2}},
            id="the result is also an output",
        ),
        pytest.param(
            StepSpec("report", inputs=("n",), outputs=("kept",), result="result"),
            lambda n: ([n], {"n": np.int64(n)}),
            {"kept": [2]},
            id="the result comes after the outputs",
        ),
    ],
)
def test_run_step_writes_the_result(
    store: Store, spec: StepSpec, function: Any, saved: dict[str, object]
) -> None:
    paths = run_step(function, spec, store, RUN_ID, stored(store, n=2))
    assert store.load(paths) == saved
    assert store.read_result(RUN_ID) == {"n": 2}


def test_run_step_async_step(store: Store) -> None:
    async def step(n: int) -> int:
        await asyncio.sleep(0)
        return n + 1

    spec = StepSpec("later", inputs=("n",), outputs=("m",))
    assert store.load(run_step(step, spec, store, RUN_ID, stored(store, n=1))) == {"m": 2}


def test_run_step_names_the_step_and_cells_when_it_raises(store: Store) -> None:
    def fail(n: int) -> None:
        raise ValueError("no customers")

    spec = StepSpec("train", inputs=("n",), outputs=("model",), cells=(5, 6))
    with pytest.raises(StepError) as caught:
        run_step(fail, spec, store, RUN_ID, stored(store, n=0))
    assert str(caught.value) == "cells 5, 6: step `train` failed: ValueError: no customers"
    assert isinstance(caught.value.__cause__, ValueError)
    assert (caught.value.step, caught.value.cells) == ("train", (5, 6))


@pytest.mark.parametrize(
    ("function", "message"),
    [
        pytest.param(lambda n: n, "returned int, not a tuple of 2: a, b", id="one value for two"),
        pytest.param(lambda n: (n,), "returned 1 values, not a tuple of 2", id="a short tuple"),
    ],
)
def test_run_step_checks_what_the_step_returns(store: Store, function: Any, message: str) -> None:
    spec = StepSpec("pair", inputs=("n",), outputs=("a", "b"), cells=(7,))
    with pytest.raises(StepError, match=re.escape(f"cell 7: step `pair`: {message}")):
        run_step(function, spec, store, RUN_ID, stored(store, n=1))


def test_run_step_missing_input(store: Store) -> None:
    spec = StepSpec("use", inputs=("model", "n"), cells=(8,))
    with pytest.raises(StepError, match=re.escape("cell 8: step `use`: no stored value for model")):
        run_step(lambda model, n: None, spec, store, RUN_ID, stored(store, n=1))


def test_run_step_unsaveable_output_names_step_and_value(store: Store) -> None:
    spec = StepSpec("connect", outputs=("conn",), cells=(2,))
    with pytest.raises(
        ArtifactError, match=re.escape("cell 2: step `connect`: cannot save `conn`")
    ) as caught:
        run_step(threading.Lock, spec, store, RUN_ID, {})
    assert caught.value.name == "conn"


def test_step_spec_refuses_in_place_changes_of_non_inputs() -> None:
    with pytest.raises(ValueError, match="changed in place but not inputs"):
        StepSpec("s", inputs=("a",), changed_in_place=("b",))


def test_step_spec_refuses_sources_of_values_it_does_not_read() -> None:
    with pytest.raises(ValueError, match="sources of values it does not read"):
        StepSpec("s", inputs=("a",), sources=(("b", "load"),))


def test_step_spec_upstream_is_its_sources_then_after() -> None:
    spec = StepSpec(
        "report",
        inputs=("a", "b", "c"),
        sources=(("a", "left"), ("b", "right"), ("c", "left")),
        after=("printer", "right"),
    )
    assert spec.upstream == ("left", "right", "printer")


def test_run_step_takes_parameters_from_the_arguments(store: Store) -> None:
    spec = StepSpec("scale", inputs=("n", "factor"), outputs=("m",), sources=(("n", "load"),))
    stored_n = stored(store, n=4)
    paths = run_step(lambda n, factor: n * factor, spec, store, RUN_ID, stored_n, {"factor": 3})
    assert store.load(paths) == {"m": 12}


def test_run_step_hands_on_a_parameter_changed_in_place(store: Store) -> None:
    spec = StepSpec("extend", inputs=("weights",), changed_in_place=("weights",))
    paths = run_step(lambda weights: weights.append(9), spec, store, RUN_ID, {}, {"weights": [1]})
    assert store.load(paths) == {"weights": [1, 9]}


def test_the_final_step_writes_null_when_the_pipeline_has_no_result(store: Store) -> None:
    spec = StepSpec("report", inputs=("n",), final=True)
    assert run_step(print, spec, store, RUN_ID, stored(store, n=1)) == {}
    assert store.read_result(RUN_ID) is None


PIPELINE_MODULE = """\
def helper(n):
    # cell 4
    return 10 // n


def step(n):
    \"\"\"Notebook cells 6, 7.\"\"\"
    # cell 6
    m = n + 1
    # cell 7
    return helper(n - 1)
"""


def test_a_failing_step_names_the_cell_it_failed_in(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The innermost line of the step's module in the traceback, under its `# cell N` marker."""
    (tmp_path / "marked_pipeline.py").write_text(PIPELINE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import marked_pipeline

    spec = StepSpec("train", inputs=("n",), outputs=("model",), cells=(6, 7))
    with pytest.raises(StepError) as caught:
        run_step(marked_pipeline.step, spec, store, RUN_ID, {}, {"n": 1}, notebook="churn.ipynb")
    assert str(caught.value) == (
        "churn.ipynb: cell 4: step `train` failed: ZeroDivisionError: integer division or modulo "
        "by zero"
    )


def test_an_unsaveable_value_is_named_with_its_cell(store: Store) -> None:
    spec = StepSpec("connect", outputs=("n", "conn"), cells=(2, 3), bound_in=(("conn", 3),))
    with pytest.raises(ArtifactError) as caught:
        run_step(lambda: (1, threading.Lock()), spec, store, RUN_ID, {}, notebook="etl.ipynb")
    message = str(caught.value)
    assert message.startswith("etl.ipynb: cell 3: step `connect`: cannot save `conn`: ")
    assert "make it in the step that uses it" in message
    assert "\n" not in message
    assert caught.value.name == "conn"


# --- Pipeline ----------------------------------------------------------------------------------


def diamond() -> Pipeline:
    """load -> (count, extend) -> report; `extend` changes `rows` in place, `count` reads it."""

    def load(n: int) -> list[int]:
        return list(range(n))

    def extend(rows: list[int]) -> None:
        rows.append(100)

    def count(rows: list[int]) -> int:
        return len(rows)

    def report(rows: list[int], size: int, label: str) -> dict[str, object]:
        return {"label": label, "size": size, "last": rows[-1]}

    steps = (
        StepSpec("load", inputs=("n",), outputs=("rows",)),
        StepSpec("extend", ("rows",), changed_in_place=("rows",), sources=(("rows", "load"),)),
        StepSpec("count", ("rows",), ("size",), sources=(("rows", "load"),)),
        StepSpec(
            "report",
            ("rows", "size", "label"),
            sources=(("rows", "extend"), ("size", "count")),
            result="result",
            final=True,
        ),
    )

    def arguments(n: int = 3, label: str | None = None) -> dict[str, Any]:
        return {"n": n, "label": "rows" if label is None else label}

    functions = {"load": load, "extend": extend, "count": count, "report": report}
    return Pipeline("diamond.ipynb", steps, functions, arguments, ("n", "label"))


def test_pipeline_runs_every_step_through_the_store(store: Store) -> None:
    handed = diamond().run_all(store, RUN_ID, {"n": 2})
    assert store.read_result(RUN_ID) == {"label": "rows", "size": 2, "last": 100}
    assert store.load(handed["load"]) == {"rows": [0, 1]}  # as `load` left it
    assert store.load(handed["extend"]) == {"rows": [0, 1, 100]}


def test_pipeline_run_task_picks_its_inputs_from_what_upstream_steps_handed_on(
    store: Store,
) -> None:
    pipeline = diamond()
    load = pipeline.run_task("load", store, RUN_ID, {}, {"n": 1})
    # the stray URL of another step's value is not read: only each input's own source
    count = pipeline.run_task("count", store, RUN_ID, {"load": load, "extend": {"rows": "x"}})
    assert store.load(count) == {"size": 1}


def test_pipeline_refuses_unknown_parameters(store: Store) -> None:
    with pytest.raises(ValueError, match=r"diamond.ipynb: no parameter `m`; the parameters are n"):
        diamond().run_task("load", store, RUN_ID, {}, {"m": 1})


def test_pipeline_checks_its_steps_come_after_their_upstream() -> None:
    late = StepSpec("b", ("x",), sources=(("x", "a"),))
    with pytest.raises(ValueError, match="before"):
        Pipeline("nb.ipynb", (late, StepSpec("a")), {"a": print, "b": print}, dict)


@pytest.mark.parametrize(
    ("value", "kind", "item", "expected"),
    [
        pytest.param(300.0, "int", None, 300, id="an integral number for an int"),
        pytest.param(2, "float", None, 2.0, id="an int for a float"),
        pytest.param([1, 2], "tuple", None, (1, 2), id="an array for a tuple"),
        pytest.param([1, 2, 2], "set", None, {1, 2}, id="an array for a set"),
        pytest.param([1, 2.5], "list", "float", [1.0, 2.5], id="items of a list of floats"),
        pytest.param("data/x.csv", "path", None, Path("data/x.csv"), id="text for a path"),
        pytest.param(True, "int", None, True, id="a bool stays a bool"),
        pytest.param(None, "tuple", None, None, id="null stays null"),
        pytest.param({"a": 1}, "dict", None, {"a": 1}, id="others as they are"),
    ],
)
def test_typed(value: object, kind: str, item: str | None, expected: object) -> None:
    converted = typed(value, kind, item)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "kind"),
    [pytest.param(1.5, "int", id="a fraction for an int"), pytest.param([[1]], "set", id="arrays")],
)
def test_typed_refuses(value: object, kind: str) -> None:
    with pytest.raises(ValueError):
        typed(value, kind)


def test_configured_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NB2PROD_STORE", str(tmp_path / "env"))
    assert configured_store().url == str(tmp_path / "env")
    assert configured_store(str(tmp_path / "given")).url == str(tmp_path / "given")
    monkeypatch.delenv("NB2PROD_STORE")
    with pytest.raises(
        ArtifactError, match=r"no store: set the DAG param `store` or \$NB2PROD_STORE"
    ):
        configured_store(None, setting="the DAG param `store`")


# --- command lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "item", "expected"),
    [
        pytest.param("{'mode': 'slow'}", dict, None, {"mode": "slow"}, id="a Python dict"),
        pytest.param('{"mode": "slow"}', dict, None, {"mode": "slow"}, id="a JSON object"),
        pytest.param("[1, 2]", tuple, int, (1, 2), id="an array for a tuple"),
        pytest.param("(1, 2)", list, int, [1, 2], id="a tuple for a list"),
        pytest.param("[1, 2.5]", list, float, [1, 2.5], id="an int will do for a float"),
        pytest.param('["b", "a"]', set, str, {"a", "b"}, id="an array for a set"),
        pytest.param("[]", list, int, [], id="empty"),
        pytest.param("true", None, None, True, id="JSON true"),
        pytest.param("None", None, None, None, id="Python None"),
        pytest.param("data/x.csv", None, None, "data/x.csv", id="plain text stays text"),
        pytest.param("n * 2", None, None, "n * 2", id="code is not run"),
    ],
)
def test_parse_text(text: str, kind: type | None, item: type | None, expected: object) -> None:
    value = runtime.parse_text(text, kind, item)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "kind", "item", "said"),
    [
        pytest.param("[1]", dict, None, "'[1]' is not a dict", id="a list for a dict"),
        pytest.param("[1, 'a']", list, int, "is not a list of int", id="an item of another type"),
        pytest.param("[True]", list, int, "is not a list of int", id="a bool is no int"),
        pytest.param("[1]", list, bool, "is not a list of bool", id="an int is no bool"),
        pytest.param("words", list, None, "'words' is not a list", id="text for a list"),
    ],
)
def test_parse_text_refuses(text: str, kind: type, item: type | None, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        runtime.parse_text(text, kind, item)


def test_stdout_to_stderr_moves_prints_and_descriptor_writes(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, subprocess, sys
        from nb2prod.runtime import stdout_to_stderr
        with stdout_to_stderr():
            print("python")
            os.write(1, b"descriptor\\n")
            subprocess.run([sys.executable, "-c", "print('child')"], check=True)
        print("result")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert done.stdout == "result\n"
    assert done.stderr.split() == ["python", "descriptor", "child"]


def test_stdout_to_stderr_without_descriptors(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    replaced = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, replaced
    try:
        with runtime.stdout_to_stderr():
            print("inside")
        print("after")
    finally:
        sys.stdout = sys_stdout
    assert replaced.getvalue() == "after\n"
    assert "inside" in capsys.readouterr().err


PIPELINE = '''
def helper(x):
    return 1 / x


def load(x):
    """Load (notebook cell 3)."""
    # cell 3
    y = x + 1
    # cell 4
    return helper(y - 1)


def run(x=0):
    if x is None:
        x = 1 / 0
    return load(x)
'''


@pytest.mark.parametrize(
    ("argument", "cell"),
    [
        pytest.param(0, None, id="in a function above every marker: no cell"),
        pytest.param(None, None, id="in run() itself: no cell"),
        pytest.param("text", 3, id="in a step"),
    ],
)
def test_failure_cell(tmp_path: Path, argument: object, cell: int | None) -> None:
    path = tmp_path / "pipeline.py"
    path.write_text(PIPELINE)
    namespace: dict[str, Any] = {}
    exec(compile(PIPELINE, str(path), "exec"), namespace)
    run = namespace["run"]
    with pytest.raises(Exception) as failed:
        run(argument)
    assert runtime.failure_cell(failed.value, str(path), [run.__code__]) == cell


def test_failure_cell_of_a_function_under_a_marker(tmp_path: Path) -> None:
    source = PIPELINE.replace("\ndef helper", "\n# cell 2\ndef helper")
    path = tmp_path / "pipeline.py"
    path.write_text(source)
    namespace: dict[str, Any] = {}
    exec(compile(source, str(path), "exec"), namespace)
    with pytest.raises(ZeroDivisionError) as failed:
        namespace["run"](0)
    assert runtime.failure_cell(failed.value, str(path), [namespace["run"].__code__]) == 2


def test_the_runtime_is_black_formatted_as_it_ships() -> None:
    """Generated packages are black-formatted; the runtime is shipped without formatting it."""
    import black

    from nb2prod.output import formatting

    source = Path(runtime.__file__).read_text()
    assert black.format_str(source, mode=black.Mode()) == source
    assert black.format_str(source, mode=formatting._mode(black)) == source


def test_pipeline_null_stands_for_the_notebook_s_default_where_json_cannot_carry_it() -> None:
    def arguments(key: bytes = b"secret", n: int | None = None) -> dict[str, Any]:
        return {"key": key, "n": n}

    pipeline = Pipeline("nb.ipynb", (), {}, arguments, ("key", "n"), null_default=("key",))
    assert pipeline.given({"key": None, "n": None}) == {"key": b"secret", "n": None}
