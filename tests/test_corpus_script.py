"""The pure parts of benchmarks/corpus.py, on small notebooks written here: no network, no corpus."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


corpus = _load()


def v4(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def code(source: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], **extra}


def markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


# --- marking every code cell deploy ---------------------------------------------------------


def test_every_code_cell_is_tagged_and_nothing_else_changes() -> None:
    output = {"output_type": "stream", "name": "stdout", "text": ["1\n"]}
    notebook = v4(
        markdown("# Title"),
        code("x = 1", outputs=[output], execution_count=3),
        {"cell_type": "code", "source": "y = 2", "outputs": []},  # no metadata at all
        code("z = 3", metadata={"tags": ["parameters"], "collapsed": True}),
        code("w = 4", metadata={"tags": ["deploy"]}),
    )
    before = json.dumps(notebook, sort_keys=True)
    marked = corpus.mark_deploy(notebook)
    assert json.dumps(notebook, sort_keys=True) == before, "the input is left as it was"
    cells = marked["cells"]
    assert cells[0] == notebook["cells"][0], "markdown cells are untouched"
    assert [c["metadata"]["tags"] for c in cells[1:]] == [
        ["deploy"],
        ["deploy"],
        ["parameters", "deploy"],
        ["deploy"],
    ]
    assert cells[1]["outputs"] == [output] and cells[1]["execution_count"] == 3
    assert cells[3]["metadata"]["collapsed"] is True


def test_nbformat_3_cells_are_tagged_in_their_worksheets() -> None:
    notebook = {
        "nbformat": 3,
        "worksheets": [{"cells": [{"cell_type": "code", "input": ["a = 1\n", "a"]}]}],
    }
    marked = corpus.mark_deploy(notebook)
    assert marked["worksheets"][0]["cells"][0]["metadata"] == {"tags": ["deploy"]}
    assert corpus.code_sources(marked) == ["a = 1\na"]


def test_empty_code_cells_are_not_counted() -> None:
    notebook = v4(code(""), code(["  \n"]), code(["x = 1\n", "x"]), markdown("x"))
    assert corpus.code_sources(notebook) == ["x = 1\nx"]


# --- reasons ----------------------------------------------------------------------------------

REASONS = [
    pytest.param(
        "cell 2, line 3: deploy cells read names that no deploy or parameters cell binds: "
        "`n` (read in cell 1; no cell binds it); `m` (read in cell 4; no cell binds it)",
        "undefined name",
        id="undefined names, however many",
    ),
    pytest.param(
        "cell 5, line 2: the %watermark magic changes what the code does (files, namespace, "
        "environment); rewrite it in plain Python or leave the cell unmarked",
        "magic whose value the code needs: %watermark",
        id="a line magic keeps its name",
    ),
    pytest.param(
        "cell 7, line 1: the %%writefile cell magic does work the pipeline would need; rewrite "
        "the cell in plain Python or leave it unmarked",
        "magic whose value the code needs: %%writefile",
        id="a cell magic keeps its name",
    ),
    pytest.param(
        "cell 3, line 1: 'files = !ls' assigns the output of an IPython magic or shell command; "
        "compute it in Python (subprocess, pathlib, glob) or leave the cell unmarked",
        "magic whose value the code needs: x = !cmd",
        id="shell output assigned",
    ),
    pytest.param(
        "is not a valid notebook: Notebook could not be converted from version 3 to version 4 "
        "because it's missing a key: 'list' object has no attribute 'splitlines'; save it again",
        "schema",
        id="invalid notebook",
    ),
    pytest.param(
        "cell 9, line 1: `f` reads `beta`, which cell 31 binds again after cell 20 uses `f`; a "
        "lifted function cannot see both values",
        "rebound after use",
        id="rebound after use",
    ),
    pytest.param(
        "cell 23, line 1: `auc` is bound here and by an import; rename one of them",
        "bound here and by an import",
        id="import clash",
    ),
    pytest.param(
        "uses a r kernel; nb2prod lifts Python notebooks only",
        "non-Python kernel",
        id="kernel",
    ),
    pytest.param(
        "is a Python 2 notebook (its kernel's language is python2); nb2prod lifts Python 3 "
        "code: port the notebook to Python 3 and save it from a Python 3 kernel",
        "Python 2 kernel",
        id="a Python 2 kernel",
    ),
    pytest.param(
        "cell 4, line 9: something new about `x` in 3 places, 'quoted' and \"so\"",
        "something new about `X` in N places, 'X' and \"X\"",
        id="an unknown message is generalised, not lost",
    ),
]


@pytest.mark.parametrize(("message", "reason"), REASONS)
def test_normalise_reason(message: str, reason: str) -> None:
    assert corpus.normalise_reason(message) == reason


def test_an_apostrophe_is_not_a_quote() -> None:
    assert corpus.generalise("it's 'x' and it's") == "it's 'X' and it's"


SYNTAX = [
    pytest.param("print 'hello'", "syntax error (Python 2)", id="print statement"),
    pytest.param(
        "try:\n    f()\nexcept ValueError, e:\n    pass",
        "syntax error (Python 2)",
        id="except comma",
    ),
    pytest.param(
        "%%capture\n!pip install x",
        "syntax error (code that parses once IPython syntax is removed)",
        id="shell inside a cell magic's body",
    ),
    pytest.param(
        "x = 1\n!ls", "syntax error (code that parses once IPython syntax is removed)", id="shell"
    ),
    pytest.param("pd.read_csv(", "syntax error (other)", id="unfinished code"),
]


@pytest.mark.parametrize(("source", "reason"), SYNTAX)
def test_syntax_errors_are_told_apart_by_their_cell(source: str, reason: str) -> None:
    notebook = v4(markdown("# x"), code(source))
    message = "cell 2, line 1: syntax error: invalid syntax; fix the cell"
    assert corpus.refine_syntax("syntax error", message, notebook) == reason


def test_the_error_line_is_taken_and_warnings_are_skipped() -> None:
    output = (
        "nb.ipynb: cell 2, line 1: warning: %matplotlib is notebook-only; dropped\n"
        "nb.ipynb: cell 4, line 2: syntax error: invalid syntax; fix the cell\n"
        "1 notebook: 1 failed\n"
    )
    assert (
        corpus.message_of(output, "nb.ipynb")
        == "cell 4, line 2: syntax error: invalid syntax; fix the cell"
    )


# --- what counts as runnable ------------------------------------------------------------------

RUNNABLE = [
    pytest.param(["import os, json\nfrom collections import Counter"], True, "", id="stdlib"),
    pytest.param(
        ["import numpy as np\nimport pandas as pd", "from sklearn.linear_model import Ridge"],
        True,
        "",
        id="scientific stack",
    ),
    pytest.param(
        ["%matplotlib inline\nimport matplotlib.pyplot as plt\nimport seaborn as sns"],
        True,
        "",
        id="notebook-only magics do not count",
    ),
    pytest.param(["from IPython.display import display, HTML"], True, "", id="IPython.display"),
    pytest.param(["def f():\n    import scipy.stats\n    return 1"], True, "", id="nested import"),
    pytest.param(["import torch\nimport numpy"], False, "imports torch", id="deep learning"),
    pytest.param(["import IPython"], False, "imports IPython", id="IPython itself"),
    pytest.param(["from .helpers import load"], False, "imports .helpers", id="relative import"),
    pytest.param(["import thinkstats2, xgboost"], False, "imports thinkstats2, xgboost", id="two"),
    pytest.param(["!pip install pandas\nimport pandas"], False, "runs shell commands", id="pip"),
    pytest.param(["files = !ls"], False, "runs shell commands", id="shell output"),
    pytest.param(["%%bash\nrm -rf data"], False, "runs shell commands", id="bash cell"),
    pytest.param(["print 'x'"], False, "a cell does not parse", id="Python 2"),
]


@pytest.mark.parametrize(("codes", "ok", "why"), RUNNABLE)
def test_runnable(codes: list[str], ok: bool, why: str) -> None:
    found, because = corpus.runnable(codes)
    assert found is ok
    assert because.startswith(why)


def test_the_body_of_a_foreign_cell_magic_is_not_python() -> None:
    assert corpus.python_of("%%html\n<b>import torch</b>") is None
    assert corpus.python_of("%%time\nx = 1") == "x = 1"
    assert corpus.python_of("df.head?\nif x:\n    %time y()") == "pass\nif x:\n    pass"
    assert corpus.python_of("?\n# why?\nx = 1") == "pass\n# why?\nx = 1"


SHOWS = [
    pytest.param("x = 1\nx", True, id="trailing expression"),
    pytest.param("plt.plot(x);", False, id="semicolon"),
    pytest.param("x = 1", False, id="statement"),
    pytest.param("%%bash\necho", False, id="foreign cell"),
]


@pytest.mark.parametrize(("source", "shows"), SHOWS)
def test_shows_value(source: str, shows: bool) -> None:
    assert corpus.shows_value(source) is shows


# --- sources and verdicts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        pytest.param("a/b.ipynb", True, id="relative"),
        pytest.param("01_Getting_&_Knowing/Data set.ipynb", True, id="odd characters"),
        pytest.param("/etc/passwd", False, id="absolute"),
        pytest.param("a/../../b.ipynb", False, id="parent"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_safe_path(path: str, safe: bool) -> None:
    assert corpus.is_safe_path(path) is safe


def test_sources_are_read_and_checked(tmp_path: Path) -> None:
    entry = {"repo": "owner/name", "commit": "a" * 40, "notebooks": ["x.ipynb"], "data": []}
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"sources": [entry]}))
    [source] = corpus.load_sources(path)
    assert (source.folder, source.notebooks) == ("owner__name", ("x.ipynb",))
    path.write_text(json.dumps({"sources": [{**entry, "notebooks": ["../x.ipynb"]}]}))
    with pytest.raises(ValueError, match="unsafe path"):
        corpus.load_sources(path)


def finished(code: int | None, stdout: str = "", stderr: str = "") -> Any:
    return corpus.Finished(code, stdout, stderr, 1.0)


VERDICTS = [
    pytest.param(
        finished(0, "nb.ipynb: cell 4: verified: run() equals the notebook's result\n"),
        "verified",
        id="verified",
    ),
    pytest.param(
        finished(1, "nb.ipynb: cell 4: mismatch: run() differs\n  result: 3 != 4\n"),
        "mismatch",
        id="mismatch",
    ),
    pytest.param(
        finished(1, stderr="nb.ipynb: the generated run() failed where the notebook's cells ran"),
        "run() failed",
        id="run failed",
    ),
    pytest.param(
        finished(1, stderr="nb.ipynb: the generated run() did not finish within 20 s"),
        "run() timed out",
        id="run timed out",
    ),
    pytest.param(
        finished(1, stderr="nb.ipynb: cell 6: raised URLError: no network in the python3 kernel"),
        "not runnable",
        id="the notebook's own cell fails",
    ),
    pytest.param(finished(None), "not runnable", id="over the overall limit"),
    pytest.param(
        finished(1, stderr="Traceback (most recent call last):\n  File ...\nKeyError: 'x'\n"),
        "crashed",
        id="traceback",
    ),
    pytest.param(finished(-9), "crashed", id="signal"),
]


@pytest.mark.parametrize(("done", "verdict"), VERDICTS)
def test_classify_verify(done: Any, verdict: str) -> None:
    assert corpus.classify_verify(done, "nb.ipynb")[0] == verdict


def test_a_crash_of_build_is_named() -> None:
    assert corpus.crash_of(finished(None), 60) == "timeout: no answer within 60 s"
    assert (
        corpus.crash_of(finished(1, "nb.ipynb: internal error: KeyError"), 60) == "internal error"
    )
    assert corpus.crash_of(finished(2), 60) == "exit status 2"
    assert corpus.crash_of(finished(1, "nb.ipynb: cell 1: syntax error"), 60) is None
