"""Reading notebooks: nbformat 4 and 3, and the clear refusal of what is not a notebook."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest

from nb2prod.errors import NotebookError
from nb2prod.notebook.reader import parse_notebook

V3 = {
    "nbformat": 3,
    "nbformat_minor": 0,
    "metadata": {"name": "old"},
    "worksheets": [
        {
            "metadata": {},
            "cells": [
                {"cell_type": "heading", "level": 2, "source": "Load", "metadata": {}},
                {
                    "cell_type": "code",
                    "input": "x = 1\nx",
                    "language": "python",
                    "metadata": {"tags": ["deploy"]},
                    "outputs": [
                        {"output_type": "pyout", "text": "1", "metadata": {}, "prompt_number": 1}
                    ],
                    "collapsed": False,
                },
            ],
        }
    ],
}


def test_nbformat_3_is_upgraded() -> None:
    notebook = parse_notebook(json.dumps(V3))
    heading, code = notebook.cells
    assert (heading.kind, heading.source) == ("markdown", "## Load")
    assert (code.index, code.source, code.tags, code.result_text) == (
        2,
        "x = 1\nx",
        ("deploy",),
        "1",
    )


@pytest.mark.parametrize(
    ("text", "start"),
    [
        pytest.param("", "is empty", id="empty file"),
        pytest.param('{"cells": [', "is not valid notebook JSON", id="truncated"),
        pytest.param("[1, 2]", "is JSON but not a notebook", id="a list"),
        pytest.param('{"nbformat": 5, "cells": []}', "uses nbformat 5", id="too new"),
        pytest.param('{"nbformat": 2, "cells": []}', "uses nbformat 2", id="too old"),
        pytest.param(
            '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": {}}',
            "field 'cells' is an object, expected a list",
            id="cells as an object",
        ),
    ],
)
def test_refused(text: str, start: str) -> None:
    with pytest.raises(NotebookError) as caught:
        parse_notebook(text)
    assert caught.value.diagnostic.message.startswith(start)


def test_other_kernel_is_refused() -> None:
    node = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}},
        "cells": [],
    }
    with pytest.raises(NotebookError, match="uses a r kernel"):
        parse_notebook(json.dumps(node))


def test_not_utf8() -> None:
    with pytest.raises(NotebookError, match="is not UTF-8"):
        parse_notebook(b'{"nbformat": 4, "x": "\xff"}')


def _v4(*cells: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """An nbformat 4.5 notebook of `cells`, with a Python kernel unless `metadata` says."""
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": kernel, **metadata},
        "cells": list(cells),
    }


def _markdown(source: str, **fields: Any) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": "m", "metadata": {}, "source": source, **fields}


def _code(source: str, **fields: Any) -> dict[str, Any]:
    cell = {"cell_type": "code", "id": "c", "metadata": {"tags": ["deploy"]}, "source": source}
    return {**cell, "outputs": [], "execution_count": None, **fields}


REPAIRED = [
    pytest.param(
        _v4(_markdown("# Load", outputs=[], execution_count=3), _code("x = 1")),
        "cell 1: Additional properties are not allowed ('execution_count', 'outputs' were",
        id="markdown cell with outputs, as hosted services export",
    ),
    pytest.param(
        _v4(_markdown("# Load"), {k: v for k, v in _code("x = 1").items() if k != "id"}),
        "cell 2: has no id",
        id="missing cell id",
    ),
    pytest.param(
        _v4(_code("x = 1", id="same"), _code("y = 2", id="same")),
        "cell 2: repeats the id of an earlier cell",
        id="duplicate cell ids",
    ),
    pytest.param(
        _v4(_markdown("# Load"), _code("x = 1", id='bad id "\n')),
        "cell 2 field 'id': 'bad id \"\\n' does not match",
        id="cell id against the schema",
    ),
    pytest.param(
        _v4(_code("x = 1", metadata={"tags": ["deploy"], "jupyter": 5})),
        "cell 1 field 'metadata.jupyter': 5 is not of type 'object'",
        id="cell metadata of the wrong type",
    ),
    pytest.param(
        {**_v4(_code("x = 1")), "metadata": {"kernelspec": {"name": "python3"}}},
        "field 'metadata.kernelspec': 'display_name' is a required property",
        id="kernelspec without a display name",
    ),
    pytest.param(
        _v4(_code("x = 1", outputs=[{"output_type": "stream", "text": "1"}])),
        "cell 1 field 'outputs.0'",
        id="output missing a required field",
    ),
]


@pytest.mark.parametrize(("node", "first"), REPAIRED)
def test_schema_problems_jupyter_tolerates_are_repaired(node: dict[str, Any], first: str) -> None:
    """Read as Jupyter opens it: the cells are all there, with one warning naming the first
    problem; the file itself is left as it is."""
    text = json.dumps(node)
    notebook = parse_notebook(text)
    assert [cell.source for cell in notebook.cells] == [
        "".join(cell["source"]) for cell in node["cells"]
    ]
    (repaired,) = notebook.warnings
    assert repaired.warning and repaired.cell is None
    assert repaired.message.startswith(f"does not follow the notebook format ({first}")
    assert repaired.message.endswith("save it from Jupyter again to repair the file")
    assert json.dumps(node) == text


def test_one_warning_for_many_problems() -> None:
    cells = [_markdown(f"# {n}", id=f"m{n}", outputs=[]) for n in range(4)]
    (repaired,) = parse_notebook(json.dumps(_v4(*cells, _code("x = 1")))).warnings
    assert ", and 3 more);" in repaired.message


def test_a_valid_notebook_reads_without_warnings() -> None:
    assert parse_notebook(json.dumps(_v4(_markdown("# Load"), _code("x = 1")))).warnings == ()
    assert parse_notebook(json.dumps(V3)).warnings == ()


def test_a_valid_notebook_is_read_without_importing_nbformat() -> None:
    """fastjsonschema checks it against nbformat's schema file; nbformat and jsonschema (slow to
    import) are left for notebooks to upgrade or repair."""
    notebook = json.dumps(_v4(_markdown("# Load"), _code("x = 1")))
    script = (
        "import sys\n"
        "from nb2prod.notebook.reader import parse_notebook\n"
        f"assert parse_notebook({notebook!r}).warnings == ()\n"
        "print(sorted(m for m in ('nbformat', 'jsonschema') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("node", "first"), REPAIRED)
def test_what_fastjsonschema_refuses_nbformat_refuses(node: dict[str, Any], first: str) -> None:
    """The fast check is only a shortcut: every notebook the repair cases hold fails it."""
    from nb2prod.notebook.reader import valid_as_saved

    assert not valid_as_saved(copy.deepcopy(node))


def test_nbformat_3_heading_kept_as_lines() -> None:
    """nbformat.read joins the lines before upgrading; a heading cannot upgrade without."""
    node = copy.deepcopy(V3)
    node["worksheets"][0]["cells"][0]["source"] = ["Load ", "the data"]
    heading, _ = parse_notebook(json.dumps(node)).cells
    assert heading.source == "## Load the data"


def test_python_2_is_named() -> None:
    node = _v4(_code("print 1"))
    node["metadata"]["kernelspec"]["language"] = "python2"
    with pytest.raises(NotebookError) as caught:
        parse_notebook(json.dumps(node))
    assert caught.value.diagnostic.message.startswith(
        "is a Python 2 notebook (its kernel's language is python2); nb2prod lifts Python 3 code"
    )
