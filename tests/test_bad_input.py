"""Bad input of every kind: one line `PATH: ...`, exit 1, no traceback, nothing written."""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nb2prod.build import build_notebook
from nb2prod.cli import app
from nb2prod.options import BuildOptions

runner = CliRunner()

GOOD: dict[str, Any] = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    "cells": [
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "## Load"},
        {
            "cell_type": "code",
            "id": "c",
            "metadata": {"tags": ["deploy"]},
            "source": ["x = 1\n", "x"],
            "outputs": [],
            "execution_count": None,
        },
    ],
}

Mutation = Callable[[dict[str, Any]], object]


def setting(*path: str | int, value: object) -> Mutation:
    """A mutation that sets (or, with value=KeyError, deletes) the field at `path`."""

    def mutate(node: dict[str, Any]) -> object:
        parent: Any = node
        for key in path[:-1]:
            parent = parent[key]
        if value is KeyError:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        return node

    return mutate


def text(content: str) -> Mutation:
    return lambda node: content


CASES = [
    pytest.param(text("{not json"), "is not valid notebook JSON (line 1, column 2", id="not JSON"),
    pytest.param(
        lambda node: json.dumps(node)[:-40], "is not valid notebook JSON", id="truncated JSON"
    ),
    pytest.param(text(""), "is empty; save the notebook", id="empty file"),
    pytest.param(text('{"cells": []}'), "is JSON but not a notebook", id="JSON, not a notebook"),
    pytest.param(text("[" * 50_000 + "]" * 50_000), "is JSON nested too deeply", id="deep JSON"),
    pytest.param(
        setting("cells", 1, "source", value=5),
        "cell 2: field 'source' is a number, expected text or a list of text lines",
        id="source as a number",
    ),
    pytest.param(
        setting("cells", 1, "source", value=["x = 1\n", None]),
        "cell 2: field 'source' is a list holding null",
        id="a source line as null",
    ),
    pytest.param(
        setting("cells", value={}),
        "field 'cells' is an object, expected a list",
        id="cells as an object",
    ),
    pytest.param(
        setting("cells", 1, "metadata", "tags", value="deploy"),
        "cell 2: field 'metadata.tags' is text, expected a list of text tags",
        id="tags as a string",
    ),
    pytest.param(
        setting("cells", 1, value=7),
        "cell 2: is a number, expected a cell object",
        id="a cell as a number",
    ),
    pytest.param(
        setting("cells", 0, "cell_type", value=KeyError),
        "cell 1: has no 'cell_type', expected one of code, markdown, raw",
        id="missing cell_type",
    ),
    pytest.param(setting("cells", value=KeyError), "has no field 'cells'", id="missing cells"),
    pytest.param(
        setting("metadata", value=KeyError), "has no field 'metadata'", id="missing metadata"
    ),
    pytest.param(
        setting("nbformat_minor", value="5"),
        "field 'nbformat_minor' is text, expected a whole number",
        id="minor version as text",
    ),
    pytest.param(
        setting("metadata", "kernelspec", "language", value=3),
        "field 'metadata.kernelspec.language' is a number, expected text",
        id="kernel language as a number",
    ),
    pytest.param(
        setting("cells", 1, "outputs", value=[{"output_type": "execute_result", "data": []}]),
        "cell 2: field 'outputs.1.data' is a list, expected an object",
        id="output data as a list",
    ),
    pytest.param(setting("nbformat", value=2), "uses nbformat 2; nb2prod reads", id="too old"),
    pytest.param(setting("nbformat", value=5), "uses nbformat 5; nb2prod reads", id="too new"),
    pytest.param(
        setting("nbformat", value="4"), "has a non-numeric 'nbformat'", id="version as text"
    ),
    pytest.param(
        setting("metadata", "kernelspec", "language", value="R"),
        "uses a r kernel; nb2prod lifts Python notebooks only",
        id="non-Python kernel",
    ),
    pytest.param(
        setting("metadata", "kernelspec", "language", value="python2"),
        "is a Python 2 notebook (its kernel's language is python2); nb2prod lifts Python 3",
        id="Python 2 kernel",
    ),
    pytest.param(
        setting("cells", 1, "source", value="x = 1\nif x\n    y = 2"),
        "cell 2, line 2: syntax error",
        id="syntax error names cell and line",
    ),
    pytest.param(
        setting("cells", 1, "metadata", "tags", value=[]),
        "has no deploy cells; tag the production cells",
        id="no deploy cells",
    ),
    pytest.param(
        setting("cells", value=[]), "has no deploy cells", id="empty notebook without cells"
    ),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


def assert_refused(project: Path, shown: str, expected: str) -> None:
    """Exit 1, exactly one line naming the notebook, no traceback, no output folder."""
    code, out, err = invoke("build", shown)
    assert code == 1, out + err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{shown}: "), lines[0]
    assert expected in lines[0]
    assert "Traceback" not in err
    assert not (project / "build").exists()


@pytest.mark.parametrize(("mutate", "expected"), CASES)
def test_bad_notebook_is_refused_in_one_line(
    project: Path, mutate: Mutation, expected: str
) -> None:
    content = mutate(copy.deepcopy(GOOD))
    data = content if isinstance(content, str) else json.dumps(content)
    (project / "nb_deploy.ipynb").write_text(data, encoding="utf-8")
    assert_refused(project, "nb_deploy.ipynb", expected)


def test_the_unmutated_notebook_builds(project: Path) -> None:
    (project / "nb_deploy.ipynb").write_text(json.dumps(GOOD))
    assert invoke("build", "nb_deploy.ipynb")[0] == 0


REPAIRED = [
    pytest.param(
        setting("cells", 0, "outputs", value=[]), "cell 1: Additional properties", id="outputs"
    ),
    pytest.param(setting("cells", 1, "id", value='bad id "\n'), "cell 2 field 'id'", id="id"),
    pytest.param(setting("cells", 1, "id", value=KeyError), "cell 2: has no id", id="no id"),
]


@pytest.mark.parametrize(("mutate", "named"), REPAIRED)
def test_schema_problems_are_one_warning(project: Path, mutate: Mutation, named: str) -> None:
    """What Jupyter opens builds, with one warning line naming the first problem."""
    (project / "nb_deploy.ipynb").write_text(json.dumps(mutate(copy.deepcopy(GOOD))))
    code, out, err = invoke("build", "nb_deploy.ipynb")
    assert (code, out) == (0, "nb_deploy.ipynb: written -> build/nb_deploy\n")
    (line,) = err.splitlines()
    assert line.startswith(
        f"nb_deploy.ipynb: warning: does not follow the notebook format ({named}"
    ), line


def test_not_utf8(project: Path) -> None:
    (project / "nb_deploy.ipynb").write_bytes(json.dumps(GOOD).encode("utf-16"))
    assert_refused(project, "nb_deploy.ipynb", "is not UTF-8 text (byte 0)")


def test_missing_file(project: Path) -> None:
    assert_refused(project, "gone.ipynb", "no such file; check the path")


def test_folder_where_a_file_is_expected(project: Path) -> None:
    (project / "folder.ipynb").mkdir()
    assert_refused(project, "folder.ipynb", "is a folder, not a notebook file")


def test_unreadable_file(project: Path) -> None:
    """chmod 000; as root, which reads anything, the build runs in a child as user nobody."""
    notebook = project / "secret_deploy.ipynb"
    notebook.write_text(json.dumps(GOOD))
    notebook.chmod(0)
    expected = "secret_deploy.ipynb: cannot be read (Permission denied); check its permissions"
    if os.geteuid() != 0:
        assert_refused(project, "secret_deploy.ipynb", "cannot be read (Permission denied)")
        return
    (project / "warm_deploy.ipynb").write_text(json.dumps(GOOD))
    invoke("build", "warm_deploy.ipynb")  # imports every stage: the child may not read them
    shared = Path(tempfile.mkdtemp())  # pytest's own folders are closed to other users
    try:
        shared.chmod(0o755)
        shutil.move(notebook, shared / notebook.name)
        code, err = _as_nobody(shared, notebook.name)
        assert (code, err.splitlines()) == (1, [expected])
        assert not (shared / "build").exists()
    finally:
        shutil.rmtree(shared)


def _as_nobody(folder: Path, notebook: str) -> tuple[int, str]:
    """Build in `folder` in a forked child that has dropped root; its status and messages.

    The child calls the build, not the CLI: it can no longer import the standard library
    modules the CLI's output loads lazily, which live under /root.
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports through the pipe and never returns into pytest
        report = "99\nchild failed"
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.chdir(folder)
            result = build_notebook(Path(notebook), BuildOptions())
            report = f"{int(not result.ok)}\n" + "".join(f"{m}\n" for m in result.messages)
        finally:
            os.write(write_end, report.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(child, 0)
    code, _, err = report.partition("\n")
    return int(code), err


def test_pipes_and_devices_are_never_opened(project: Path) -> None:
    os.mkfifo(project / "pipe_deploy.ipynb")  # reading it would block forever
    assert_refused(project, "pipe_deploy.ipynb", "is not a regular file (a pipe or a device)")
    (project / "zero_deploy.ipynb").symlink_to("/dev/zero")  # reading it would fill memory
    assert_refused(project, "zero_deploy.ipynb", "is not a regular file (a pipe or a device)")


def _words(text: str) -> str:
    """The words of a usage error, without the box typer draws around it."""
    return " ".join(word for word in text.split() if word.strip("│╭╮╰╯─"))


def test_out_naming_a_file_is_a_usage_error_said_once(project: Path) -> None:
    (project / "nb_deploy.ipynb").write_text(json.dumps(GOOD))
    (project / "other_deploy.ipynb").write_text(json.dumps(GOOD))
    (project / "out.txt").write_text("keep me")
    for extra in ([], ["--check"], ["other_deploy.ipynb"]):
        for out in ("out.txt", "out.txt/sub"):
            code, _, err = invoke("build", "nb_deploy.ipynb", "--out", out, *extra)
            assert code == 2
            assert _words(err).count("out.txt is a file, not a folder") == 1, err
            assert "nb_deploy.ipynb" not in err and "Traceback" not in err
    assert (project / "out.txt").read_text() == "keep me"
    assert sorted(p.name for p in project.iterdir()) == [
        "nb_deploy.ipynb",
        "other_deploy.ipynb",
        "out.txt",
    ]


def test_an_unreadable_lower_bounds_file_is_a_usage_error_said_once(project: Path) -> None:
    (project / "nb_deploy.ipynb").write_text(json.dumps(GOOD))
    (project / "other_deploy.ipynb").write_text(json.dumps(GOOD))
    args = ["nb_deploy.ipynb", "other_deploy.ipynb", "--lower-bounds", "pins.txt"]
    code, _, err = invoke("build", *args)
    assert code == 2
    assert _words(err).count("the lower-bounds file pins.txt cannot be read") == 1, err
    assert not (project / "build").exists()
    (project / "pins.txt").write_text("pandas==2.1.0\n")
    assert invoke("build", *args)[0] == 0


def test_a_broken_notebook_does_not_stop_the_others(project: Path) -> None:
    (project / "good_deploy.ipynb").write_text(json.dumps(GOOD))
    (project / "bad_deploy.ipynb").write_text("{")
    code, out, err = invoke("build", "bad_deploy.ipynb", "good_deploy.ipynb")
    assert code == 1
    assert err.startswith("bad_deploy.ipynb: is not valid notebook JSON")
    assert "good_deploy.ipynb: written -> build/good_deploy" in out
