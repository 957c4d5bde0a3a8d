"""The command line of a package with serve cells: run, train, and a scorer per function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.build import Status

from conftest import FIXTURES, build

NOTEBOOK = FIXTURES / "serving" / "input.ipynb"
GOOD = {"review": {"text": "good value", "stars": 4}}
BAD = {"review": {"text": "bad", "stars": 1}}


def command(
    project: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m serving ARGS` in the project's folder, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "serving", *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serving")
    assert build(NOTEBOOK, out, name="serving").status is Status.WRITTEN
    return out / "serving"


@pytest.fixture(scope="module")
def trained(project: Path) -> Path:
    done = command(project, "train", "--artifacts", "trained", "--weight", "3")
    assert done.returncode == 0, done.stderr
    return project / "trained"


def test_the_commands_are_run_train_and_each_serving_function(project: Path) -> None:
    done = command(project, "--help")
    assert done.returncode == 0
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].strip().splitlines()]
    assert listed == ["run", "train", "score", "flag"]


def test_run_is_the_pipeline_as_before(project: Path) -> None:
    done = command(project, "run", "--weight", "1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"words": 6}


def test_train_saves_and_prints_the_manifest(project: Path, trained: Path) -> None:
    done = command(project, "train", "--artifacts", "again", "--weight", "3")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["parameters"] == {"weight": 3, "threshold": 3.0}
    assert sorted(manifest["artifacts"]) == ["threshold", "vocabulary", "weight"]
    assert manifest == json.loads((project / "again" / "manifest.json").read_text())
    assert "saved vocabulary: again/vocabulary.joblib (" in done.stderr


def test_a_function_reads_json_lines_and_writes_one_result_per_line(
    project: Path, trained: Path
) -> None:
    lines = f"{json.dumps(GOOD)}\n\n{json.dumps(BAD)}\n"
    done = command(project, "score", "--artifacts", "trained", stdin=lines)
    assert done.returncode == 0, done.stderr
    # weight 3: 3 * (good 3 + value 2) + 4 stars; 3 * bad 1 + 1 star
    assert done.stdout.splitlines() == ["19.0", "4.0"]
    flagged = command(project, "flag", "--artifacts", "trained", stdin=json.dumps(BAD))
    assert flagged.stdout == "true\n"  # 4.0 >= threshold 3.0
    strict = command(
        project, "flag", "--artifacts", "trained", stdin=json.dumps({**BAD, "strict": True})
    )
    assert strict.stdout == "false\n"


def test_a_bad_line_is_named_after_the_results_before_it(project: Path, trained: Path) -> None:
    cases = project / "cases.jsonl"
    cases.write_text(
        f'{json.dumps(GOOD)}\n{json.dumps(BAD)}\n{{"review": {{}}}}\n{json.dumps(GOOD)}\n'
    )
    done = command(project, "score", "--artifacts", "trained", "cases.jsonl")
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["19.0", "4.0"]
    assert done.stderr.strip() == "cases.jsonl: line 3: score raised KeyError: 'text'"
    shown = command(project, "score", "--artifacts", "trained", "--traceback", "cases.jsonl")
    assert "Traceback" in shown.stderr and 'review["text"]' in shown.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{oops", "stdin: line 1: not JSON (", id="not JSON"),
        pytest.param(
            '{"reviews": {}}',
            "stdin: line 1: unknown argument reviews; it takes review",
            id="unknown argument",
        ),
        pytest.param(
            "{}", "stdin: line 1: missing a required argument: 'review'", id="missing argument"
        ),
    ],
)
def test_lines_that_do_not_fit_are_errors(
    project: Path, trained: Path, text: str, message: str
) -> None:
    done = command(project, "score", "--artifacts", "trained", stdin=text)
    assert done.returncode == 1
    assert done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr


def test_artifacts_that_cannot_be_used_are_one_line(project: Path, trained: Path) -> None:
    done = command(project, "score", "--artifacts", "nowhere", stdin=json.dumps(GOOD))
    assert done.returncode == 1
    assert done.stderr == (
        "nowhere/manifest.json: missing: not an artifacts folder, or saving did not finish; "
        "save (train) again\n"
    )


def test_a_progress_bar_on_a_terminal(project: Path, trained: Path) -> None:
    """With stderr on a terminal the scorer draws a bar there; stdout keeps only results."""
    import pty

    primary, secondary = pty.openpty()
    cases = project / "many.jsonl"
    cases.write_text(f"{json.dumps(GOOD)}\n" * 5)
    done = subprocess.run(
        [sys.executable, "-m", "serving", "score", "--artifacts", "trained", "many.jsonl"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project), "COLUMNS": "80"},
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
        check=False,
    )
    os.close(secondary)
    drawn = os.read(primary, 4096).decode()
    os.close(primary)
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["19.0"] * 5
    assert "scoring" in drawn and "100%" in drawn
