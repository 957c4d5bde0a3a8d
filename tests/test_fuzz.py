"""Damaged notebooks never crash the build: a structural mutator under hypothesis.

Valid notebooks are damaged in many ways (a field deleted, a value swapped for any JSON value,
the text truncated or bytes flipped). Whatever comes out, `build_notebook` returns: a failure
is one line per message naming the notebook and writes nothing, and no message is an internal
error, which would be a bug in nb2prod.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nb2prod.build import INTERNAL_ERROR, Status, build_notebook
from nb2prod.options import BuildOptions

from notebooks import make_notebook
from test_reader import V3

BASES: list[dict[str, Any]] = [
    json.loads(
        nbformat.writes(
            make_notebook(
                [
                    "md: # Churn\n## Load",
                    "parameters: n = 3\nlabel = 'x'",
                    "deploy: rows = list(range(n))",
                    "md: ## Score",
                    ("deploy,step:score: total = sum(rows)\ntotal", "3"),
                    "test: assert total >= 0",
                    "plain = 1",
                ]
            )
        )
    ),
    V3,
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def paths(node: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON tree, the root excluded."""
    found: list[tuple[Any, ...]] = []
    keys: list[Any] = []
    if isinstance(node, dict):
        keys = list(node)
    elif isinstance(node, list):
        keys = list(range(len(node)))
    for key in keys:
        child = node[key]  # type: ignore[index]
        found += [(*prefix, key), *paths(child, (*prefix, key))]
    return found


SNIPPETS = [
    *("x = 1", "x", "rows = [n, n]", "total = sum(rows)", "import os", "from math import *"),
    *("def f(a):", "    return a", "class C: pass", "del rows", "global rows", "nonlocal q"),
    *("return 5", "yield 1", "await z", "lambda: (yield)", "for i in rows:", "    total += i"),
    *("if n:", "    label = 'y'", "else:", "    pass", "x = y = z", "(a, *b) = rows"),
    *("[k for k in rows if k]", "%time x", "%%time", "!ls", "files = !ls", "x;", "#| deploy"),
    *("#| step: ../../x\"'", "#| parameters", "print(n)", "n = 'a\"b'", "s = '''\\\\'''"),
    *("__name__", "run = 1", "def main(): pass", "app = pipeline = 2", "try:", "except E:"),
    *("with open(p) as h:", "match n:", "    case 1:", "async def g(): pass", "@d", "x: int"),
    *("é = 1", "\t", "", "(", "))", "'''", "\\", "display(x)", "exec('q = 1')", "print(q)"),
]


def damage_code(data: st.DataObject, tree: Any) -> None:
    """Give a cell new source made of snippets that parse alone, together, or not at all."""
    cells = tree["cells"] if "cells" in tree else tree["worksheets"][0]["cells"]
    cell = data.draw(st.sampled_from(cells))
    lines = data.draw(st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=6))
    cell["input" if "input" in cell else "source"] = "\n".join(lines)


def damage_tree(data: st.DataObject, tree: Any) -> None:
    """Delete, replace or retype one value somewhere in the tree, in place."""
    where = data.draw(st.sampled_from(paths(tree)))
    parent = tree
    for key in where[:-1]:
        parent = parent[key]
    how = data.draw(st.sampled_from(["delete", "replace", "wrap"]))
    if how == "delete":
        del parent[where[-1]]
    elif how == "replace":
        parent[where[-1]] = data.draw(JSON_VALUES)
    else:
        parent[where[-1]] = [parent[where[-1]]]


def damage_text(data: st.DataObject, text: bytes) -> bytes:
    """Truncate the file, or overwrite a few bytes at some position."""
    cut = data.draw(st.integers(0, len(text)))
    if data.draw(st.booleans()):
        return text[:cut]
    noise = data.draw(st.binary(min_size=1, max_size=4))
    return text[:cut] + noise + text[cut + len(noise) :]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_damaged_notebooks_never_crash_or_write(data: st.DataObject) -> None:
    tree = json.loads(json.dumps(data.draw(st.sampled_from(BASES))))
    if data.draw(st.booleans()):
        damage_code(data, tree)
    for _ in range(data.draw(st.integers(0, 2))):
        damage_tree(data, tree)
    raw = json.dumps(tree, ensure_ascii=data.draw(st.booleans())).encode("utf-8", "surrogatepass")
    if data.draw(st.booleans()):
        raw = damage_text(data, raw)
    with tempfile.TemporaryDirectory() as folder:
        notebook = Path(folder) / "damaged_deploy.ipynb"
        notebook.write_bytes(raw)
        out = Path(folder) / "out"
        result = build_notebook(notebook, BuildOptions(out=out, root=Path(folder)))
        event(result.status.value)
        for message in result.messages:
            assert "\n" not in message and "\r" not in message, message
            assert message.startswith(f"{notebook.as_posix()}: "), message
            assert INTERNAL_ERROR not in message, message
        if result.status is Status.FAILED:
            assert result.messages, "a failure says why"
            assert not out.exists(), "a failed build writes nothing"
        else:
            assert result.status is Status.WRITTEN
            assert (out / "damaged_deploy" / "pyproject.toml").is_file()
