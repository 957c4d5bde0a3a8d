"""IPython syntax: dropped, unwrapped or refused, only where IPython recognises it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from nb2prod.analysis.facts import examine
from nb2prod.errors import NotebookError
from nb2prod.notebook.magics import clean_cell

from reference import run_last_cell

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
    pytest.param("# IPython's help screen\n?", "# IPython's help screen\n", id="a bare ? dropped"),
    pytest.param("x = 1\n;", 'x = 1\n("")', id="a lone ; is the empty string, as IPython runs it"),
    pytest.param(",f a b\n;g a b\n/h a b", 'f("a", "b")\ng("a b")\nh(a, b)', id="autocall escapes"),
    pytest.param("%%capture\n!pip install -q x\ny = 1", "\n\ny = 1", id="magics in a capture body"),
    pytest.param("%%time\n%%capture\nx = 1", "\n\nx = 1", id="a cell magic under another"),
    pytest.param("%%output backend='bokeh'\nplot(x)", "\nplot(x)", id="holoviews output body"),
    *[
        pytest.param(f"%{name} x\ny = 1", "\ny = 1", id=f"display-only %{name} dropped")
        for name in ("watermark", "version_information", "ls", "tensorflow_version", "output")
    ],
    pytest.param(
        "try:\n  %tensorflow_version 2.x\nexcept Exception:\n  pass",
        "try:\n  pass\nexcept Exception:\n  pass",
        id="colab magic in a block",
    ),
    pytest.param("%load solution.py", "", id="load runs nothing in a kernel"),
    pytest.param("%quickref", "", id="quickref only shows"),
    pytest.param("%run?", "", id="help on a magic"),
    pytest.param(
        "!!gcc -shared \\\n    -o lib.so \\\n    lib.c\nx = 1",
        "\n\n\nx = 1",
        id="a shell command continued over lines",
    ),
    pytest.param("%env MODE=fast", "import os; os.environ['MODE'] = 'fast'", id="env sets"),
    pytest.param("%env MODE fast", "import os; os.environ['MODE'] = 'fast'", id="env sets, space"),
    pytest.param("%env MODE", "import os; os.environ['MODE']", id="env reads"),
    pytest.param("%env", "", id="env alone only shows"),
    pytest.param(
        "%pylab inline --no-import-all",
        "import numpy; import matplotlib; from matplotlib import pylab, mlab, pyplot; "
        "import numpy as np; import matplotlib.pyplot as plt; "
        "from IPython.core.pylabtools import figsize, getfigs",
        id="pylab binds what it injects",
    ),
    pytest.param(
        '%%writefile helper.py\ndef f():\n    return "a\\\\b"\n',
        "with open('helper.py', 'w', encoding='utf-8') as _file: _file.write(\"\"\"\\\n"
        'def f():\n    return "a\\\\\\\\b"\n""")',
        id="writefile keeps the text on its lines",
    ),
]


@pytest.mark.parametrize(("source", "expected"), CHANGED)
def test_changed(source: str, expected: str) -> None:
    cleaned = clean_cell(source)
    assert cleaned.code == expected
    assert cleaned.code.count("\n") == source.count("\n"), "lines map to the notebook's"
    assert cleaned.warnings, "every dropped or rewritten magic is a warning"
    assert all(w.line is not None for w in cleaned.warnings)


@pytest.mark.parametrize(("source", "expected"), CHANGED)
def test_unmarked_cells_say_nothing(source: str, expected: str) -> None:
    """Exploration cells are read the same way, without a warning."""
    assert clean_cell(source, strict=False).warnings == ()


SILENT = [
    pytest.param(" print(1)", "print(1)", id="first line indented: IPython dedents the cell"),
    pytest.param("  x = 1\n  if x:\n      y = 2", "x = 1\nif x:\n    y = 2", id="common indent"),
    pytest.param("  %%time\n  x = 1", "\nx = 1", id="an indented cell magic"),
]


@pytest.mark.parametrize(("source", "expected"), SILENT)
def test_read_as_ipython_reads(source: str, expected: str) -> None:
    assert clean_cell(source).code == expected


REFUSED = [
    pytest.param("files = !ls", 1, id="shell output assigned"),
    pytest.param("x = 1\nout = %sx ls", 2, id="sx output assigned"),
    pytest.param("%run other.ipynb", 1, id="run another notebook"),
    pytest.param("%sql SELECT 1", 1, id="sql"),
    pytest.param("%%writefile {name}.py\nprint(1)", 1, id="writefile expanding a name"),
    pytest.param("%%writefile\nprint(1)", 1, id="writefile without a file"),
    pytest.param("%%writefile a.py b.py\nprint(1)", 1, id="writefile with two files"),
    pytest.param("%env PATH=$HOME/bin", 1, id="env expanding a name"),
    pytest.param("%env A B=1", 1, id="env name with a space"),
    pytest.param("%%file out.txt\n", 1, id="a cell magic without a body, as IPython refuses"),
    pytest.param("\n%%time", 2, id="time without a body"),
    pytest.param("#| deploy\n%%time\nx = 1", 2, id="cell magic after a mark"),
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


# --- the plain-Python forms do what IPython does ---------------------------------------------

AGREES_WITH_IPYTHON = [
    pytest.param("x = 1\nx\n;", id="a lone ; shows the empty string"),
    pytest.param(" y = 2\n y * 3", id="an indented cell"),
    pytest.param(",max a b\n;len a b\n/max 1 2", id="autocall escapes"),
    pytest.param("%%time\nz = 4\nz + 1", id="time"),
    pytest.param("%%capture\n%time w = 5\nw", id="capture over a line magic"),
    pytest.param(
        '%%writefile out.txt\nline one\n  \'\'\'a\'\'\' """b"""" \\\\ end\\\n', id="write"
    ),
    pytest.param("%%writefile out.txt\nno line break at the end", id="write, no final newline"),
    pytest.param("%%writefile 'out.txt'\n\n\n", id="write blank lines, quoted name"),
    pytest.param("%%writefile out.txt\none\n", id="write then append"),
    pytest.param("%env NB2PROD_MAGIC=1 2\n%env NB2PROD_MAGIC", id="env set and read"),
    pytest.param("%env NB2PROD_MAGIC  spaced value ", id="env set with a space"),
]


def _ipython_run(source: str) -> object:
    """What IPython shows for a cell, run by IPython itself."""
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance().run_cell(source, store_history=False).result


def _plain_run(source: str) -> object:
    """What the cleaned cell shows, run as plain Python, as the pipeline reads it."""
    found = examine(source, strict=True)
    assert found.facts is not None
    loop = asyncio.new_event_loop()
    try:
        return run_last_cell(found.code, {}, loop, shows_result=not found.facts.suppressed)
    finally:
        loop.close()


@pytest.mark.parametrize("source", AGREES_WITH_IPYTHON)
def test_plain_python_does_what_ipython_does(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The value shown, the files written and the environment are IPython's."""
    pytest.importorskip("IPython")
    seen = []
    for runner in (_ipython_run, _plain_run):
        monkeypatch.delenv("NB2PROD_MAGIC", raising=False)
        folder = tmp_path / runner.__name__
        folder.mkdir()
        monkeypatch.chdir(folder)
        (folder / "out.txt").write_text("before\n", encoding="utf-8")
        shown = runner(source)
        files = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
        seen.append((shown, files, os.environ.get("NB2PROD_MAGIC")))
    assert seen[0] == seen[1]


def test_pylab_binds_what_it_injects() -> None:
    """`%pylab` as imports binds the names IPython's import_pylab does, to the same objects
    (display excepted: the module brings its own)."""
    pytest.importorskip("matplotlib")
    from IPython.core.pylabtools import import_pylab

    injected: dict[str, object] = {}
    import_pylab(injected, import_all=True)
    ours: dict[str, object] = {}
    exec(clean_cell("%pylab inline").code, ours)
    del injected["display"], injected["__builtins__"], ours["__builtins__"]
    assert ours.keys() == injected.keys()
    assert all(ours[name] is injected[name] for name in ours)
