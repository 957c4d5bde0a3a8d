"""Reads, writes and must-binds per cell, for each scoping rule the pipeline relies on."""

from __future__ import annotations

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2prod.analysis.flow import Flow, analyse_module, function_free_names, sequence


def flow_of(source: str) -> Flow:
    return sequence(analyse_module(cst.parse_module(source)))


# (source, reads, writes, must)
CASES = [
    pytest.param("x = x + 1", ["x"], ["x"], {"x"}, id="read before rebinding"),
    pytest.param("x = 1\ny = x", [], ["x", "y"], {"x", "y"}, id="read after binding is local"),
    pytest.param(
        "if c:\n    y = 1\nprint(y)",
        ["c", "print", "y"],
        ["y"],
        set(),
        id="if without else may not bind",
    ),
    pytest.param(
        "if c:\n    y = 1\nelse:\n    y = 2\nz = y",
        ["c"],
        ["y", "z"],
        {"y", "z"},
        id="if and else both bind",
    ),
    pytest.param(
        "if a:\n    y = 1\nelif b:\n    y = 2\nz = y",
        ["a", "b", "y"],
        ["y", "z"],
        {"z"},
        id="elif without else",
    ),
    pytest.param(
        "for i in range(n):\n    total += i",
        ["range", "n", "total"],
        ["i", "total"],
        set(),
        id="loop may not run",
    ),
    pytest.param("while k:\n    k -= 1", ["k"], ["k"], set(), id="while loop"),
    pytest.param(
        "[a for a in b if a > t]", ["b", "t"], [], set(), id="comprehension target is local"
    ),
    pytest.param(
        "[[x + y for y in ys] for x in xs]", ["xs", "ys"], [], set(), id="nested comprehension"
    ),
    pytest.param("{k: v for k, v in d.items()}", ["d"], [], set(), id="dict comprehension"),
    pytest.param(
        "list(y + k for y in items)", ["list", "items", "k"], [], set(), id="generator expression"
    ),
    pytest.param(
        "[y := v for v in data]\nz = y",
        ["data", "y"],
        ["y", "z"],
        {"z"},
        id="walrus in comprehension binds outside",
    ),
    pytest.param("(n := len(a))\nprint(n)", ["len", "a", "print"], ["n"], {"n"}, id="walrus binds"),
    pytest.param(
        "a or (b := 1)\nc = b", ["a", "b"], ["b", "c"], {"c"}, id="walrus after or may not run"
    ),
    pytest.param("f = lambda r: r * rate", ["rate"], ["f"], {"f"}, id="lambda reads free names"),
    pytest.param(
        "def g(p):\n    return p * T + h(p)", [], ["g"], {"g"}, id="def body reads at call time"
    ),
    pytest.param(
        "def g(p=default):\n    pass", ["default"], ["g"], {"g"}, id="def default read now"
    ),
    pytest.param("@deco\ndef g():\n    pass", ["deco"], ["g"], {"g"}, id="decorator read now"),
    pytest.param(
        "class A(Base):\n    k = k\n    def m(self):\n        return glob",
        ["Base", "k"],
        ["A"],
        {"A"},
        id="class body runs now",
    ),
    pytest.param(
        "def outer():\n    v = 1\n    def inner():\n        return v + w\n    return inner",
        [],
        ["outer"],
        {"outer"},
        id="closure variable is not free",
    ),
    pytest.param(
        "x = 1\ndef h():\n    global x\n    x = 2",
        [],
        ["x", "h"],
        {"x", "h"},
        id="global declaration",
    ),
    pytest.param("del a[0]\ndel b", ["a", "b"], ["b"], set(), id="del unbinds"),
    pytest.param("x: int = 3\nz: int", ["int"], ["x"], {"x"}, id="annotated assignment"),
    pytest.param("a, *b = c", ["c"], ["a", "b"], {"a", "b"}, id="starred unpacking"),
    pytest.param("a, b = b, a", ["b", "a"], ["a", "b"], {"a", "b"}, id="tuple swap"),
    pytest.param("d[k] += 1", ["d", "k"], [], set(), id="augmented item assignment"),
    pytest.param(
        "obj.attr = v", ["v", "obj"], [], set(), id="attribute assignment reads the object"
    ),
    pytest.param(
        "import os.path\nimport numpy as np\nfrom a import b as c",
        [],
        ["os", "np", "c"],
        {"os", "np", "c"},
        id="import bindings",
    ),
    pytest.param(
        "with open(p) as fh:\n    text = fh.read()",
        ["open", "p"],
        ["fh", "text"],
        {"fh", "text"},
        id="with target",
    ),
    pytest.param(
        "try:\n    v = f()\nexcept E as e:\n    v = None",
        ["f", "E"],
        ["v", "e"],
        {"v"},
        id="except binds and unbinds its name",
    ),
    pytest.param(
        "try:\n    v = 1\nfinally:\n    w = 2",
        [],
        ["v", "w"],
        {"v", "w"},
        id="try body and finally",
    ),
    pytest.param(
        "match p:\n    case [x, *rest]:\n        pass\n    case {'k': v, **kw}:\n        pass\n    case Point(x=px):\n        pass",
        ["p", "Point"],
        ["x", "rest", "v", "kw", "px"],
        set(),
        id="match captures",
    ),
    pytest.param(
        "match p:\n    case 1:\n        y = 1\n    case _:\n        y = 2\nz = y",
        ["p"],
        ["y", "z"],
        {"y", "z"},
        id="match with wildcard always binds",
    ),
    pytest.param(
        "print(f'{val:{width}}')", ["print", "val", "width"], [], set(), id="f-string expressions"
    ),
    pytest.param(
        "x = None if True else False", [], ["x"], {"x"}, id="keyword constants are not names"
    ),
    pytest.param(
        "f(key=value)", ["f", "value"], [], set(), id="keyword argument names are not reads"
    ),
]


@pytest.mark.parametrize(("source", "reads", "writes", "must"), CASES)
def test_flow(source: str, reads: list[str], writes: list[str], must: set[str]) -> None:
    flow = flow_of(source)
    assert list(flow.reads) == reads
    assert list(flow.writes) == writes
    assert flow.must == must


def test_mutation_is_recorded() -> None:
    assert flow_of("df['x'] = 1\nrows.items[0] = 2").mutates == {"df", "rows"}


def test_star_import_is_recorded() -> None:
    assert flow_of("from os.path import *").star_imports == ("os.path",)


def test_top_level_await() -> None:
    assert flow_of("x = await fetch()").awaits
    assert not flow_of("async def f():\n    await g()").awaits


def test_global_write_in_function_is_recorded() -> None:
    assert flow_of("def bump():\n    global counter\n    counter += 1").global_writes == {"counter"}


def test_deferred_names_of_a_function() -> None:
    node = cst.parse_statement("def predict(x):\n    return model.predict(x) > THRESHOLD")
    assert isinstance(node, cst.FunctionDef)
    assert function_free_names(node) == {"model", "THRESHOLD"}


def test_composition_matches_whole_cell() -> None:
    source = "a = 1\nif c:\n    b = a\ndel a\nd = b"
    module = cst.parse_module(source)
    whole = sequence(analyse_module(module))
    assert list(whole.reads) == ["c", "b"]
    assert whole.must == {"d"}
    assert whole.unbinds == {"a"}


def test_nonlocal_names_are_not_free_of_the_outer_function() -> None:
    node = cst.parse_statement(
        "def counter():\n    n = 0\n    def bump():\n        nonlocal n\n        n += step\n"
        "        return n\n    return bump"
    )
    assert isinstance(node, cst.FunctionDef)
    assert function_free_names(node) == {"step"}


_NAMES = st.sampled_from(["a", "b", "c", "d"])
_FLOWS = st.builds(
    Flow,
    reads=st.lists(_NAMES, unique=True).map(tuple),
    writes=st.lists(_NAMES, unique=True).map(tuple),
    must=st.frozensets(_NAMES),
    unbinds=st.frozensets(_NAMES),
    deferred=st.frozensets(_NAMES),
    mutates=st.frozensets(_NAMES),
    star_imports=st.lists(st.sampled_from(["m", "n"]), unique=True).map(tuple),
    global_writes=st.frozensets(_NAMES),
    awaits=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FLOWS, max_size=6))
def test_sequence_is_then_folded(flows: list[Flow]) -> None:
    folded = Flow()
    for flow in flows:
        folded = folded.then(flow)
    assert sequence(flows) == folded
