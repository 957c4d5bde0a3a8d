"""Marks, headings and roles of cells."""

from __future__ import annotations

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
    pytest.param(("serve",), "def f(x): ...", {Role.SERVE}, None, "def f(x): ...", id="serve tag"),
    pytest.param(
        (), "#| serve\ndef f(x): ...", {Role.SERVE}, None, "\ndef f(x): ...", id="serve comment"
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


ROLES = [
    pytest.param(("serve",), Role.SERVE, id="serve"),
    pytest.param(("serve", "deploy"), Role.SERVE, id="a serve cell is deploy code too"),
    pytest.param(("Serve", "step:score"), Role.SERVE, id="serve with a step name"),
]


@pytest.mark.parametrize(("tags", "role"), ROLES)
def test_serve_roles(tags: tuple[str, ...], role: Role) -> None:
    notebook = Notebook((Cell(1, "code", "def f(x):\n    return x", tags),))
    assert select(notebook).cells[0].role is role


@pytest.mark.parametrize("other", ["test", "parameters"])
def test_serve_with_test_or_parameters_is_an_error(other: str) -> None:
    notebook = Notebook((Cell(3, "code", "def f(x):\n    return x", ("serve", other)),))
    with pytest.raises(NotebookError) as caught:
        select(notebook)
    assert caught.value.diagnostic.cell == 3
    assert f"marked both serve and {other}" in str(caught.value)


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
