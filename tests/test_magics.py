"""IPython syntax: dropped, unwrapped or refused, only where IPython recognises it."""

from __future__ import annotations

import pytest

from nb2prod.errors import NotebookError
from nb2prod.notebook.magics import clean_cell

KEPT = [
    pytest.param("x = 5 % 2", id="modulo is not a magic"),
    pytest.param("ratio = (area\n%circumference)", id="percent inside brackets"),
    pytest.param("s = '''\n%not_a_magic\n!nor_this\n'''", id="inside a multi-line string"),
    pytest.param("total = 1 + \\\n%2", id="after a backslash continuation"),
    pytest.param("x = a != b", id="not-equal is not a shell escape"),
    pytest.param("# %matplotlib inline", id="a comment"),
]


@pytest.mark.parametrize("source", KEPT)
def test_unchanged(source: str) -> None:
    cleaned = clean_cell(source)
    assert cleaned.code == source
    assert cleaned.warnings == ()


CHANGED = [
    pytest.param("%matplotlib inline\nx = 1", "\nx = 1", id="notebook-only magic dropped"),
    pytest.param("%load_ext autoreload\n%autoreload 2", "\n", id="autoreload dropped"),
    pytest.param("!pip install pandas\nimport pandas", "\nimport pandas", id="pip install dropped"),
    pytest.param("%pip install pandas", "", id="percent pip dropped"),
    pytest.param("%time y = f()", "y = f()", id="time keeps its statement"),
    pytest.param("%timeit f()", "", id="timeit dropped"),
    pytest.param("if x:\n    %time y = 1", "if x:\n    y = 1", id="indented time keeps statement"),
    pytest.param("if x:\n    !echo hi", "if x:\n    pass", id="indented shell becomes pass"),
    pytest.param("%%time\nx = 1\ny = 2", "\nx = 1\ny = 2", id="cell time unwraps body"),
    pytest.param("%%capture\nx = noisy()", "\nx = noisy()", id="capture unwraps body"),
    pytest.param("%%html\n<b>hi</b>", "\n", id="html cell dropped"),
    pytest.param("df?", "", id="help dropped"),
]


@pytest.mark.parametrize(("source", "expected"), CHANGED)
def test_changed(source: str, expected: str) -> None:
    cleaned = clean_cell(source)
    assert cleaned.code == expected
    assert cleaned.warnings, "every dropped magic is a warning"
    assert all(w.line is not None for w in cleaned.warnings)


REFUSED = [
    pytest.param("files = !ls", 1, id="shell output assigned"),
    pytest.param("x = 1\nout = %sx ls", 2, id="sx output assigned"),
    pytest.param("%run other.ipynb", 1, id="run another notebook"),
    pytest.param("%sql SELECT 1", 1, id="sql"),
    pytest.param("%%writefile helper.py\nprint(1)", 1, id="writefile"),
    pytest.param("%%sql\nSELECT 1", 1, id="sql cell"),
    pytest.param("%cd data", 1, id="cd changes the working folder"),
    pytest.param("x = 1\n%%time\ny = 2", 2, id="cell magic not on the first line"),
]


@pytest.mark.parametrize(("source", "line"), REFUSED)
def test_refused(source: str, line: int) -> None:
    with pytest.raises(NotebookError) as caught:
        clean_cell(source)
    assert caught.value.diagnostic.line == line


def test_lenient_mode_blanks_everything() -> None:
    assert clean_cell("files = !ls\n%run x\ny = 1", strict=False).code == "\n\ny = 1"
