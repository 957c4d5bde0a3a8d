"""The build never runs notebook code, and notebook text never becomes code."""

from __future__ import annotations

import ast
import io
import json
import sys
import tokenize
import tomllib
from pathlib import Path

import nbformat
import pytest

from nb2prod.build import Status

from conftest import build, generated_files, load_package, run_generated_tests
from notebooks import make_notebook, write_notebook

TOUCH = "__import__('pathlib').Path({path!r}).write_text('ran')"


def test_the_build_never_executes_notebook_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind of cell would leave a marker file if any of it ran during the build."""
    monkeypatch.chdir(tmp_path)
    markers = {kind: tmp_path / f"ran_{kind}" for kind in ("params", "deploy", "def", "test")}
    (tmp_path / "evil.py").write_text(TOUCH.format(path=str(tmp_path / "ran_import")) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    notebook = write_notebook(
        tmp_path / "evil_deploy.ipynb",
        [
            "parameters: n = " + TOUCH.format(path=str(markers["params"])),
            "deploy: import evil\n" + TOUCH.format(path=str(markers["deploy"])),
            "deploy: def f(x=" + TOUCH.format(path=str(markers["def"])) + "):\n    return x",
            "test: " + TOUCH.format(path=str(markers["test"])),
            TOUCH.format(path=str(tmp_path / "ran_unmarked")),
            "deploy: !touch ran_shell\nf()",
        ],
    )
    for check in (True, False):
        result = build(notebook, tmp_path / "out", check=check)
        assert result.status in {Status.STALE, Status.WRITTEN}, result.messages
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran")) == []
    assert "evil" not in sys.modules
    with load_package(tmp_path / "out" / "evil_deploy", "evil_deploy") as pipeline:
        pipeline.run()  # the generated code does run, when asked: so the markers can appear
    assert markers["deploy"].exists() and markers["params"].exists()


# Quotes of every kind, triple quotes, backslashes, a payload that would run if it escaped a
# string or comment, and non-ASCII text. Line breaks are added where the field can hold them.
PAYLOAD = "q\"'\"\"\"'''\\\\ \\n é 中 ;__import__('os').system('touch PWNED') # }"
BREAKS = "\n\r\u2028\x0b" + PAYLOAD + "\n"


def hostile_notebook(tmp_path: Path) -> Path:
    """A notebook whose file name, headings, tags, metadata and outputs all hold the payload."""
    node = make_notebook(
        [
            f"md: # Title {PAYLOAD}\n## Load {PAYLOAD}",
            "parameters: n = 3",
            "deploy: rows = list(range(n))",
            f"md: Setext {PAYLOAD}\n===",
            "deploy: total = sum(rows)",
            ("total * 2", BREAKS),
            "test: assert total == 3",
        ]
    )
    # Tags as Jupyter stores them, without the helper's prefix syntax.
    node.cells[5].metadata["tags"] = ["deploy", f"step:../../x{BREAKS}"]
    node.cells[2].metadata["tags"] = ["deploy", BREAKS]
    node.metadata["title"] = BREAKS
    node.metadata["kernelspec"]["display_name"] = BREAKS
    node.metadata[BREAKS] = {BREAKS: BREAKS}
    node.cells[1].metadata[BREAKS] = BREAKS
    folder = tmp_path / "we\"ird '''\\ é\nname"
    folder.mkdir()
    path = folder / "my \"quoted\" '''\\ é\n{x} deploy.ipynb"
    path.write_text(nbformat.writes(node), encoding="utf-8")
    return path


def code_outside_literals(source: str) -> str:
    """The tokens of a module that are neither strings nor comments."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    kept = (t.string for t in tokens if t.type not in {tokenize.STRING, tokenize.COMMENT})
    return " ".join(kept)


def calls(source: str) -> set[str]:
    """The names of the functions a module calls, as `name` or `.attribute`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            found.add(func.id if isinstance(func, ast.Name) else f".{getattr(func, 'attr', '?')}")
    return found


def test_notebook_text_never_becomes_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    notebook = hostile_notebook(tmp_path)
    result = build(notebook, tmp_path / "out")
    assert result.status is Status.WRITTEN, result.messages
    assert [line for line in result.messages if "\n" in line or "\r" in line] == []
    project = tmp_path / "out" / "my_quoted_e_x_deploy"
    sources = {rel: text for rel, text in generated_files(project).items() if rel.endswith(".py")}
    assert sorted(sources) == [
        "my_quoted_e_x_deploy/__init__.py",
        "my_quoted_e_x_deploy/__main__.py",
        "my_quoted_e_x_deploy/pipeline.py",
        "tests/test_my_quoted_e_x_deploy.py",
    ]
    for rel, text in sources.items():
        ast.parse(text)
        assert not {"__import__", ".system"} & calls(text), rel
        outside = code_outside_literals(text)
        assert "'" not in outside and '"' not in outside and "\\" not in outside, rel
        assert "中" not in outside and "é" not in outside and "PWNED" not in outside, rel
    names = {
        n.name
        for n in ast.walk(ast.parse(sources["my_quoted_e_x_deploy/pipeline.py"]))
        if isinstance(n, ast.FunctionDef)
    }
    assert all(name.isidentifier() and name.isascii() for name in names), names
    toml = tomllib.loads((project / "pyproject.toml").read_text())
    assert toml["project"]["name"] == "my-quoted-e-x-deploy"
    assert "PWNED" not in json.dumps(toml["project"]["scripts"])
    with load_package(project, "my_quoted_e_x_deploy") as pipeline:
        assert pipeline.run() == 6
    done = run_generated_tests(project)
    # The recorded output of the result cell is the payload, not what run() shows: the golden
    # test fails on it, as a string, and every other test passes.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 3 passed" in done.stdout, done.stdout
    assert "FAILED tests/test_my_quoted_e_x_deploy.py::test_run_reproduces_recorded_result" in (
        done.stdout
    )
    assert not list(tmp_path.rglob("PWNED")), "the payload ran"


def test_hostile_names_in_messages_stay_on_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "a\nb"
    folder.mkdir()
    notebook = folder / "x\r\ny'\"_deploy.ipynb"
    notebook.write_text("{")
    result = build(notebook, tmp_path / "out")
    assert result.status is Status.FAILED
    (line,) = result.messages
    assert "\n" not in line and "\r" not in line
    assert "a\\nb/x\\r\\ny'\"_deploy.ipynb: is not valid notebook JSON" in line
