"""The generated package used as an engineer uses it: its tests run from its own folder and
share one run of the pipeline, its command line prints only the result, takes parameters as
users type them and reports a failure in one line naming the notebook cell, and the package
exports the notebook's own functions."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nb2prod.build import Status

from conftest import ROOT, build, load_package, run_generated_tests
from notebooks import write_notebook

# A notebook that reads a dated CSV relative to its own folder, with a test cell and a recorded
# result. Cells are counted from 1.
READINGS = [
    "md: # Readings",
    "parameters: from pathlib import Path\ndata_path = 'data/2024-05-01_readings.csv'\n"
    "model_dir = Path('models')\nlabels = ('low', 'high')\noptions = {'mode': 'fast'}\n"
    "weights = [1.0, 2.0]",
    "deploy: import pandas as pd",
    "md: ## Load",
    "deploy: readings = pd.read_csv(data_path)\nprint('read', len(readings), 'rows')\n"
    "readings.shape",
    "md: ## Features",
    "deploy: def features(frame):\n    return frame.assign(double=frame['value'] * 2)\n\n\n"
    "table = features(readings)",
    "test: assert list(table['double']) == [2, 4, 6]",
    "md: ## Summarise",
    (
        "deploy: ratio = int(table['value'].sum()) / options.get('divisor', 1)\n"
        "{'ratio': ratio, 'mode': options['mode'], 'labels': labels, 'weights': weights, "
        "'path': isinstance(model_dir, Path)}",
        "{'ratio': 6.0, 'mode': 'fast', 'labels': ('low', 'high'), 'weights': [1.0, 2.0], "
        "'path': True}",
    ),
]
RESULT = {"ratio": 6.0, "mode": "fast", "labels": ["low", "high"], "weights": [1.0, 2.0]}

# A result of numpy and pandas values, and output written by print() and to descriptor 1.
VALUES = [
    "deploy: import os\nimport numpy as np\nimport pandas as pd\nprint('working')\n"
    "os.write(1, b'low-level output\\n')",
    "deploy: class Thing:\n    def __repr__(self):\n        return 'Thing()'\n\n\n"
    "frame = pd.DataFrame({'a': [1, 2], 'b': [0.5, None]})\n"
    "{'scalar': np.int64(3), 'array': np.arange(3), 'series': frame['a'], 'frame': frame, "
    "'when': pd.Timestamp('2024-05-01 12:00'), 'nan': float('nan'), 'set': {3, 1}, "
    "'object': Thing()}",
]
VALUES_JSON = {
    "scalar": 3,
    "array": [0, 1, 2],
    "series": [1, 2],
    "frame": [{"a": 1, "b": 0.5}, {"a": 2, "b": None}],
    "when": "2024-05-01T12:00:00",
    "nan": None,
    "set": [1, 3],
    "object": "Thing()",
}


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The readings notebook's folder with its data; the package is built into another one."""
    folder = tmp_path_factory.mktemp("readings")
    write_notebook(folder / "notebooks" / "readings_deploy.ipynb", READINGS)
    (folder / "notebooks" / "data").mkdir()
    (folder / "notebooks" / "data" / "2024-05-01_readings.csv").write_text("value\n1\n2\n3\n")
    result = build(folder / "notebooks" / "readings_deploy.ipynb", folder / "build")
    assert result.status is Status.WRITTEN, result.messages
    return folder


def command(project: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m <package> ARGS` with the project importable, run in `cwd`."""
    environment = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [sys.executable, "-m", project.name, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_generated_tests_pass_from_the_package_folder(readings: Path) -> None:
    """The shared run and every test work in the notebook's folder, where its relative data
    path leads, although pytest starts in the package's folder."""
    done = run_generated_tests(readings / "build" / "readings_deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout  # exports, smoke, golden, the test cell


def test_the_generated_tests_run_the_pipeline_once(tmp_path: Path) -> None:
    """The smoke, golden and test-cell tests share one run of the pipeline."""
    log = tmp_path / "runs.log"
    cells = [
        f"parameters: log = {str(log)!r}",
        "deploy: with open(log, 'a') as file:\n    file.write('ran\\n')\nvalues = [1, 2, 3]",
        "test: assert values == [1, 2, 3]",
        ("deploy: sum(values)", "6"),
    ]
    notebook = write_notebook(tmp_path / "counted_deploy.ipynb", cells)
    assert build(notebook, tmp_path / "build").status is Status.WRITTEN
    done = run_generated_tests(tmp_path / "build" / "counted_deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout  # exports, smoke, golden, the test cell
    assert log.read_text() == "ran\n"


def test_the_package_exports_the_notebooks_functions(readings: Path) -> None:
    with load_package(readings / "build" / "readings_deploy", "readings_deploy"):
        package = importlib.import_module("readings_deploy")
        from readings_deploy import features

        assert features is package.pipeline.features
        assert "features" in package.__all__


def test_stdout_is_the_result_and_prints_go_to_stderr(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "values_deploy.ipynb", VALUES)
    assert build(notebook, tmp_path / "build", api=True).status is Status.WRITTEN
    project = tmp_path / "build" / "values_deploy"
    done = command(project, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert json.loads(done.stdout) == VALUES_JSON
    assert "working" in done.stderr and "low-level output" in done.stderr
    with load_package(project, "values_deploy"):
        api = importlib.import_module("values_deploy.api")
        assert TestClient(api.app).post("/run").json() == VALUES_JSON
        # one conversion, shipped once: the runtime module's
        shipped = importlib.import_module("values_deploy.runtime")
        assert api.json_value is shipped.json_value
        assert importlib.import_module("values_deploy.__main__").dumps is shipped.dumps


def test_output_writes_the_result_to_a_file(readings: Path, tmp_path: Path) -> None:
    project = readings / "build" / "readings_deploy"
    done = command(project, "--output", str(tmp_path / "result.json"), cwd=readings / "notebooks")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert json.loads((tmp_path / "result.json").read_text()) == {**RESULT, "path": True}


@pytest.mark.parametrize(
    ("args", "line"),
    [
        pytest.param(
            ["--options", "{'divisor': 0}"],
            "cell 10: ZeroDivisionError: division by zero",
            id="in a step",
        ),
        pytest.param(
            ["--data-path", "data/no_such.csv"],
            "cell 5: FileNotFoundError: [Errno 2] No such file or directory: 'data/no_such.csv'",
            id="in a library a step calls",
        ),
        pytest.param(
            ["--data-path", "data/other.csv"],
            "cell 7: KeyError: 'value'",
            id="in a function of another cell",
        ),
    ],
)
def test_a_failure_is_one_line_naming_the_cell(readings: Path, args: list[str], line: str) -> None:
    (readings / "notebooks" / "data" / "other.csv").write_text("other\n1\n")
    project = readings / "build" / "readings_deploy"
    done = command(project, *args, cwd=readings / "notebooks")
    assert (done.returncode, done.stdout) == (1, "")
    lines = [text for text in done.stderr.splitlines() if not text.startswith("read ")]
    notebook = os.path.relpath(readings / "notebooks" / "readings_deploy.ipynb", ROOT)
    assert lines == [f"{Path(notebook).as_posix()}: {line} (--traceback shows where)"]
    shown = command(project, *args, "--traceback", cwd=readings / "notebooks")
    assert shown.returncode == 1
    assert "Traceback (most recent call last)" in shown.stderr
    assert shown.stderr.rstrip().endswith(line + " (--traceback shows where)")


@pytest.mark.parametrize(
    ("args", "changed"),
    [
        pytest.param(["--options", "{'mode': 'slow'}"], {"mode": "slow"}, id="a Python dict"),
        pytest.param(["--options", '{"mode": "slow"}'], {"mode": "slow"}, id="a JSON object"),
        pytest.param(["--labels", "['a', 'b', 'c']"], {"labels": ["a", "b", "c"]}, id="tuple"),
        pytest.param(["--labels", '["one"]'], {"labels": ["one"]}, id="a tuple of one"),
        pytest.param(["--weights", "[3, 4.5]"], {"weights": [3, 4.5]}, id="ints for floats"),
        pytest.param(["--weights", "[]"], {"weights": []}, id="an empty list"),
        pytest.param(["--model-dir", "elsewhere"], {}, id="a path stays a Path"),
    ],
)
def test_options_are_taken_as_users_type_them(
    readings: Path, args: list[str], changed: dict[str, Any]
) -> None:
    project = readings / "build" / "readings_deploy"
    done = command(project, *args, cwd=readings / "notebooks")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {**RESULT, "path": True, **changed}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["--options", "[1, 2]"], "'[1, 2]' is not a dict", id="not a dict"),
        pytest.param(["--labels", "[1]"], "'[1]' is not a tuple of str", id="items"),
        pytest.param(["--weights", "text"], "'text' is not a list of float", id="not a list"),
    ],
)
def test_an_option_of_the_wrong_kind_is_a_usage_error(
    readings: Path, args: list[str], said: str
) -> None:
    project = readings / "build" / "readings_deploy"
    done = command(project, *args, cwd=readings / "notebooks")
    assert done.returncode == 2
    assert said in done.stderr
    assert "read 3 rows" not in done.stderr, "the pipeline must not run"


def test_help_shows_every_default(readings: Path) -> None:
    done = command(readings / "build" / "readings_deploy", "--help", cwd=readings)
    shown = " ".join(done.stdout.split())
    for option, default in [
        ("--data-path <str>", "data/2024-05-01_readings.csv"),
        ("--model-dir <path>", "Path('models')"),
        ("--labels <str>", "('low', 'high')"),
        ("--options <str>", "{'mode': 'fast'}"),
        ("--weights <str>", "[1.0, 2.0]"),
    ]:
        assert option in shown, done.stdout
        after = shown.split(option, 1)[1].split(" --", 1)[0]
        assert f"[default: {default}]" in after, (option, after)


@pytest.fixture
def signature(readings: Path) -> Iterator[Any]:
    import inspect

    with load_package(readings / "build" / "readings_deploy", "readings_deploy") as pipeline:
        yield inspect.signature(pipeline.run).parameters


def test_a_tuple_default_is_typed_as_a_tuple_of_any_length(signature: Any) -> None:
    assert str(signature["labels"].annotation) == "tuple[str, ...]"
