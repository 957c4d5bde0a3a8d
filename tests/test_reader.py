"""Reading notebooks: nbformat 4 and 3, and the clear refusal of what is not a notebook."""

from __future__ import annotations

import json

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
