"""Marks, headings and roles of cells."""

from __future__ import annotations

import warnings

import pytest

from nb2prod.analysis.selection import select
from nb2prod.errors import NotebookError
from nb2prod.notebook.cells import (
    DIALECTS,
    EVAL_FALSE_NOTE,
    POD_NOTE,
    PREV_NOTE,
    Role,
    last_heading,
    mark,
    read_marks,
)
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


# --- dialects: Kale's tags and nbdev's directives ---------------------------------------------

DIALECT_MARKS = [
    pytest.param(("imports",), "import os", {Role.DEPLOY}, None, id="kale imports"),
    pytest.param(("functions",), "def f(): pass", {Role.DEPLOY}, None, id="kale functions"),
    pytest.param(("pipeline-parameters",), "n = 1", {Role.PARAMETERS}, None, id="kale params"),
    pytest.param(
        ("pipeline-metrics",), "print(n)", {Role.DEPLOY}, "pipeline_metrics", id="kale metrics"
    ),
    pytest.param(("block:load_data",), "x = 1", {Role.DEPLOY}, "load_data", id="kale block"),
    pytest.param(("step:train", "prev:load"), "x = 1", {Role.DEPLOY}, "train", id="kale step"),
    pytest.param(("skip",), "x = 1", set(), None, id="kale skip"),
    pytest.param((), "#| export\nx = 1", {Role.DEPLOY}, None, id="nbdev export"),
    pytest.param((), "#|exporti\nx = 1", {Role.DEPLOY}, None, id="nbdev exporti"),
    pytest.param((), "#| export core\nx = 1", {Role.DEPLOY}, None, id="nbdev export to a module"),
    pytest.param((), "#| exports\nx = 1", {Role.DEPLOY}, None, id="nbdev exports"),
    pytest.param((), "#| hide\nx = 1", set(), None, id="nbdev hide stays out"),
    pytest.param((), "#| default_exp core", set(), None, id="nbdev default_exp stays out"),
    pytest.param((), "#| eval: false\nx = 1", set(), None, id="nbdev eval false stays out"),
]


@pytest.mark.parametrize(("tags", "source", "roles", "step"), DIALECT_MARKS)
def test_dialect_marks(
    tags: tuple[str, ...], source: str, roles: set[Role], step: str | None
) -> None:
    marks = read_marks(Cell(1, "code", source, tags))
    assert marks.roles == roles
    assert marks.step == step


@pytest.mark.parametrize(
    ("dialects", "tags", "source", "roles"),
    [
        pytest.param(("nb2prod", "nbdev"), ("imports",), "import os", set(), id="kale off"),
        pytest.param(("kale",), ("deploy",), "x = 1", set(), id="nb2prod off"),
        pytest.param(("nb2prod", "kale"), (), "#| export\nx = 1", set(), id="nbdev off"),
        pytest.param(("nbdev",), (), "#| deploy\nx = 1", set(), id="nb2prod comments off"),
        pytest.param(("kale",), ("step:fit",), "x = 1", {Role.DEPLOY}, id="kale's own step"),
    ],
)
def test_only_the_dialects_asked_for_are_read(
    dialects: tuple[str, ...], tags: tuple[str, ...], source: str, roles: set[Role]
) -> None:
    marks = read_marks(Cell(1, "code", source, tags), dialects)
    assert marks.roles == roles
    if not roles:
        assert marks.source == source  # a comment of a dialect not read stays a comment


def _code(index: int, source: str, *tags: str) -> Cell:
    return Cell(index, "code", source, tags)


def _roles(
    notebook: Notebook, dialects: tuple[str, ...] = DIALECTS
) -> list[tuple[str, str | None]]:
    return [(c.role.value, c.step) for c in mark(notebook, dialects).cells]


def test_kale_untagged_cells_join_the_block_before_them() -> None:
    notebook = Notebook(
        (
            _code(1, "x = 0"),  # before any Kale tag: exploration, as Kale leaves it out
            _code(2, "import os", "imports"),
            _code(3, "import sys"),
            _code(4, "n = 2", "pipeline-parameters"),
            _code(5, "m = 3"),
            _code(6, "rows = [n]", "step:load"),
            _code(7, "rows.append(m)"),
            _code(8, "print(rows)", "skip"),
            _code(9, "rows.sort()"),  # after a skip: still the block before it
            _code(10, "total = sum(rows)", "block:sum", "prev:load"),
            _code(11, "check = total", "test"),  # a mark of its own: not part of the block
            _code(12, "half = total / 2", "block:"),  # an empty block: name joins the last one
            _code(13, "print(total)", "pipeline-metrics"),
            _code(14, "total"),
        )
    )
    assert _roles(notebook) == [
        ("unmarked", None),
        ("deploy", None),
        ("deploy", None),
        ("parameters", None),
        ("parameters", None),
        ("deploy", "load"),
        ("deploy", "load"),
        ("unmarked", None),
        ("deploy", "load"),
        ("deploy", "sum"),
        ("test", None),
        ("deploy", "sum"),
        ("deploy", "pipeline_metrics"),
        ("deploy", "pipeline_metrics"),
    ]
    assert _roles(notebook, ("nb2prod", "nbdev"))[1:3] == [("unmarked", None)] * 2


def test_without_kales_own_tags_an_unmarked_cell_stays_out() -> None:
    """`step:NAME` is nb2prod's mark too: a notebook with no tag only Kale writes keeps
    nb2prod's rule that unmarked cells are exploration."""
    notebook = Notebook((_code(1, "rows = [1]", "step:load"), _code(2, "rows.append(2)")))
    assert _roles(notebook) == [("deploy", "load"), ("unmarked", None)]


def test_kale_notes_and_nbdev_eval_false_warn_once_per_cell() -> None:
    notebook = Notebook(
        (
            _code(1, "x = 1", "step:a"),
            _code(2, "y = x", "step:b", "prev:a", "limit:nvidia.com/gpu:1"),
            _code(3, "#| eval: false\nz = slow()"),
            _code(4, "#| export\ny"),
        )
    )
    selection = select(notebook)
    assert [(w.cell, w.message, w.warning) for w in selection.warnings] == [
        (2, PREV_NOTE, True),
        (2, POD_NOTE, True),
        (3, EVAL_FALSE_NOTE, True),
    ]
    assert [c.index for c in selection.with_role(Role.DEPLOY)] == [1, 2, 4]


@pytest.mark.parametrize(
    ("tags", "source", "named"),
    [
        pytest.param(("skip", "deploy"), "x = 1", ("tag `skip` (kale)", "tag `deploy` (nb2prod)")),
        pytest.param(("skip",), "#| export\nx = 1", ("tag `skip` (kale)", "`#| export` (nbdev)")),
        pytest.param(
            ("imports",),
            "#| eval: false\nimport os",
            ("`#| eval: false` (nbdev)", "tag `imports` (kale)"),
        ),
    ],
)
def test_a_cell_both_left_out_and_lifted_is_an_error(
    tags: tuple[str, ...], source: str, named: tuple[str, str]
) -> None:
    notebook = Notebook((Cell(1, "markdown", "# t"), Cell(2, "code", source, tags)))
    with pytest.raises(NotebookError) as caught:
        select(notebook)
    diagnostic = caught.value.diagnostic
    assert diagnostic.cell == 2
    for mark_text in named:
        assert mark_text in diagnostic.message
    assert select(notebook, marks=("nbdev",) if "skip" in tags else ("kale",)).cells


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
