"""Marks, headings and roles of cells."""

from __future__ import annotations

import warnings

import pytest

from nb2prod.analysis.selection import select
from nb2prod.errors import NotebookError
from nb2prod.notebook.cells import Role, last_heading, read_marks
from nb2prod.notebook.reader import Cell, Notebook

MARKS = [
    pytest.param(("deploy",), "x = 1", {Role.DEPLOY}, None, "x = 1", id="deploy tag"),
    pytest.param(
        (), "#| deploy\nx = 1", {Role.DEPLOY}, None, "\nx = 1", id="deploy comment blanked"
    ),
    pytest.param(
        (), "#| parameters\nn = 3", {Role.PARAMETERS}, None, "\nn = 3", id="parameters comment"
    ),
    pytest.param(("test",), "assert x", {Role.TEST}, None, "assert x", id="test tag"),
    pytest.param(
        ("step:load",), "x = 1", {Role.DEPLOY}, "load", "x = 1", id="step tag implies deploy"
    ),
    pytest.param(
        (),
        "#| deploy\n#| step: Load data\nx = 1",
        {Role.DEPLOY},
        "Load data",
        "\n\nx = 1",
        id="step comment",
    ),
    pytest.param(
        (),
        "#| hide\n#| deploy\nx = 1",
        {Role.DEPLOY},
        None,
        "#| hide\n\nx = 1",
        id="other directives stay",
    ),
    pytest.param(
        (), "x = 1\n#| deploy", set(), None, "x = 1\n#| deploy", id="marks only at the top"
    ),
    pytest.param(
        ("Deploy",), "x = 1", {Role.DEPLOY}, None, "x = 1", id="tags are case-insensitive"
    ),
    pytest.param(
        (),
        "%%time\n#| deploy\nx = 1",
        {Role.DEPLOY},
        None,
        "%%time\n\nx = 1",
        id="marks under a cell magic, which IPython wants first",
    ),
    pytest.param(
        (),
        "#| deploy\n%%time\nx = 1",
        {Role.DEPLOY},
        None,
        "#| deploy\n%%time\nx = 1",
        id="a cell magic under marks keeps them, to be refused where it stands",
    ),
    pytest.param(
        (),
        "%%writefile notes.txt\n#| deploy\ntext",
        {Role.DEPLOY},
        None,
        "%%writefile notes.txt\n#| deploy\ntext",
        id="the text of a writefile cell is written whole, its marks too",
    ),
]


@pytest.mark.parametrize(("tags", "source", "roles", "step", "cleaned"), MARKS)
def test_marks(
    tags: tuple[str, ...], source: str, roles: set[Role], step: str | None, cleaned: str
) -> None:
    marks = read_marks(Cell(1, "code", source, tags))
    assert marks.roles == roles
    assert marks.step == step
    assert marks.source == cleaned


HEADINGS = [
    pytest.param("# Title", "Title", id="atx"),
    pytest.param("## Load ##", "Load", id="closing hashes"),
    pytest.param("# One\ntext\n## Two", "Two", id="last heading wins"),
    pytest.param("Setext\n======", "Setext", id="setext"),
    pytest.param("```\n# not a heading\n```", None, id="inside a code fence"),
    pytest.param("just text", None, id="no heading"),
    pytest.param("#hashtag", None, id="no space is not a heading"),
]


@pytest.mark.parametrize(("markdown", "heading"), HEADINGS)
def test_last_heading(markdown: str, heading: str | None) -> None:
    assert last_heading(markdown) == heading


def test_deploy_and_test_together_is_an_error() -> None:
    notebook = Notebook((Cell(1, "code", "x = 1", ("deploy", "test")),))
    with pytest.raises(NotebookError) as caught:
        select(notebook)
    assert caught.value.diagnostic.cell == 1


def test_broken_exploration_cell_is_ignored() -> None:
    notebook = Notebook((Cell(1, "code", "x = (", ()), Cell(2, "code", "y = 1", ("deploy",))))
    assert [c.index for c in select(notebook).cells] == [2]


def test_syntax_error_names_cell_and_line() -> None:
    notebook = Notebook(
        (Cell(1, "markdown", "# h"), Cell(2, "code", "x = 1\ny = = 2", ("deploy",)))
    )
    with pytest.raises(NotebookError) as caught:
        select(notebook)
    assert (caught.value.diagnostic.cell, caught.value.diagnostic.line) == (2, 2)


def test_heading_is_attached() -> None:
    notebook = Notebook((Cell(1, "markdown", "## Load"), Cell(2, "code", "x = 1", ("deploy",))))
    heading = select(notebook).cells[0].heading
    assert heading is not None and heading.text == "Load"


def test_cell_magic_after_a_mark_is_an_error_as_in_ipython() -> None:
    notebook = Notebook((Cell(1, "code", "#| deploy\n%%time\nx = 1"),))
    with pytest.raises(NotebookError) as caught:
        select(notebook)
    assert (caught.value.diagnostic.cell, caught.value.diagnostic.line) == (1, 2)
    assert "only accepts on a cell's first line, above any `#|` marks" in str(caught.value)


def test_unmarked_cells_give_no_magic_warnings() -> None:
    notebook = Notebook(
        (Cell(1, "code", "%%time\nx = 1\n!ls"), Cell(2, "code", "%matplotlib inline", ("deploy",)))
    )
    assert [w.cell for w in select(notebook).warnings] == [2]


IPYTHON_RUNS = [
    pytest.param(
        "x = 1\nfrom __future__ import division\ny = x / 2", id="a late __future__ import"
    ),
    pytest.param("x = 1\ny = x is not 1", id="code Python warns about"),
]


@pytest.mark.parametrize("source", IPYTHON_RUNS)
def test_cells_ipython_compiles_are_read_quietly(source: str) -> None:
    """IPython compiles a cell statement by statement; Python's own warnings about the code
    are not nb2prod's to print."""
    notebook = Notebook((Cell(1, "code", source, ("deploy",)),))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [c.index for c in select(notebook).cells] == [1]
    assert caught == []


def test_an_unknown_future_feature_is_still_refused() -> None:
    notebook = Notebook((Cell(1, "code", "x = 1\nfrom __future__ import braces", ("deploy",)),))
    with pytest.raises(NotebookError) as caught:
        select(notebook)
    assert (caught.value.diagnostic.line, caught.value.diagnostic.message) == (
        2,
        "syntax error: not a chance; fix the cell so that it runs in Jupyter",
    )
