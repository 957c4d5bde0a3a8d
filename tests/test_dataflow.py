"""Reads, writes and must-binds per cell, for each scoping rule the pipeline relies on."""

from __future__ import annotations

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2prod.analysis.dynamic import DYNAMIC, Reached, static_form
from nb2prod.analysis.flow import (
    Flow,
    UnsupportedSyntax,
    analyse_module,
    analyse_statement,
    function_free_names,
    sequence,
)


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
    pytest.param(
        "f = lambda r: r * rate", [], ["f"], {"f"}, id="a lambda bound to a name reads when called"
    ),
    pytest.param(
        "m = max(xs, key=lambda r: r * rate)",
        ["max", "xs", "rate"],
        ["m"],
        {"m"},
        id="a lambda passed on is taken to read where it is made",
    ),
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


# (source of one def or class, the names it reads from the notebook now or when called)
FREE_NAMES = [
    pytest.param(
        "def make_adder(k):\n    def add(v):\n        return v + k\n    return add",
        set(),
        id="a nested function reads its enclosing function's parameter",
    ),
    pytest.param(
        "def adder(n):\n    return lambda x: x + n",
        set(),
        id="a lambda reads its enclosing function's parameter",
    ),
    pytest.param(
        "def deco(fn):\n    @functools.wraps(fn)\n    def wrapper(*a, **kw):\n"
        "        return fn(*a, **kw)\n    return wrapper",
        {"functools"},
        id="a decorator's wrapper reads the decorated function",
    ),
    pytest.param(
        "def timed(n):\n    def deco(func):\n        def wrapper(*a):\n"
        "            return [func(*a) for _ in range(n)]\n        return wrapper\n    return deco",
        {"range"},
        id="a decorator factory three functions deep",
    ),
    pytest.param(
        "class Layer:\n    def call(self, x):\n        return K.rnn(lambda ac, x: K.dot(x, self.W), x)",
        {"K"},
        id="a lambda in a method reads self",
    ),
    pytest.param(
        "def top(rows, col):\n    return sorted(rows, key=lambda r: r[col])",
        {"sorted"},
        id="a sort key reads the function's parameter",
    ),
    pytest.param(
        "def picture(world, Xs, Ys):\n    def row(y):\n        return ''.join(world[x, y] for x in Xs)\n"
        "    return [row(y) for y in Ys]",
        set(),
        id="a generator in a nested function reads the outer parameters",
    ),
    pytest.param(
        "def counter():\n    n = 0\n    def bump():\n        nonlocal n\n        n += 1\n"
        "        return n\n    return bump",
        set(),
        id="a nonlocal counter",
    ),
    pytest.param(
        "def outer(a):\n    def middle():\n        def inner():\n            return a + b\n"
        "        return inner\n    b = 2\n    return middle",
        set(),
        id="a local bound after the nested function is still the function's",
    ),
    pytest.param(
        "def outer():\n    x = 1\n    def inner():\n        global x\n        return x\n"
        "    return inner",
        {"x"},
        id="a name declared global skips the enclosing function",
    ),
    pytest.param(
        "class A:\n    k = 1\n    def m(self):\n        return k + self.k",
        {"k"},
        id="a class body does not enclose its methods",
    ),
    pytest.param(
        "class A:\n    k = 1\n    ks = [k for _ in range(2)]",
        {"k", "range"},
        id="a class body does not enclose its comprehensions",
    ),
    pytest.param(
        "class A:\n    k = 1\n    f = lambda self: k",
        {"k"},
        id="a class body does not enclose its lambdas",
    ),
    pytest.param(
        "def f(rows):\n    class Row:\n        size = len(rows)\n        def n(self):\n"
        "            return rows\n    return Row",
        {"len"},
        id="a function encloses a class and its methods",
    ),
]


@pytest.mark.parametrize(("source", "free"), FREE_NAMES)
def test_free_names_of_nested_scopes(source: str, free: set[str]) -> None:
    node = cst.parse_statement(source)
    assert isinstance(node, cst.FunctionDef | cst.ClassDef)
    assert function_free_names(node) == free


def test_mutation_is_recorded() -> None:
    assert flow_of("df['x'] = 1\nrows.items[0] = 2").mutates == {"df", "rows"}


# (source, known to change in place, may change in place)
MUTATIONS = [
    pytest.param("rows.append(1)", {"rows"}, {"rows"}, id="a list method"),
    pytest.param("seen.update(new)", {"seen"}, {"seen"}, id="a dict or set method"),
    pytest.param("df.dropna(inplace=True)", {"df"}, {"df"}, id="a pandas call with inplace=True"),
    pytest.param("df.dropna()", set(), set(), id="the same call without inplace is pure"),
    pytest.param("model.fit(X, y)", {"model"}, {"model"}, id="fitting an estimator"),
    pytest.param("pipe.set_params(c=1)", {"pipe"}, {"pipe"}, id="set_params"),
    pytest.param("self.items.append(v)", {"self"}, {"self"}, id="through an attribute"),
    pytest.param("random.shuffle(deck)", {"deck"}, {"deck", "random"}, id="a mutating function"),
    pytest.param("frame.head()", set(), set(), id="a known-pure method"),
    pytest.param("widget.refresh()", set(), {"widget"}, id="an unknown method may mutate"),
    pytest.param("df.groupby('a').plot()", set(), {"df"}, id="through a chain of calls"),
    pytest.param("total += 1", set(), {"total"}, id="augmented assignment may mutate"),
    pytest.param("del cache[key]", {"cache"}, {"cache"}, id="del of an item"),
    pytest.param("def f():\n    rows.append(1)", set(), set(), id="not when a function is made"),
    pytest.param(
        "[r.append(0) for r in rows]", set(), {"rows"}, id="through a comprehension's own name"
    ),
    pytest.param(
        "[m.fit(X, y) for m in models.values()]", set(), {"models"}, id="fitting what one loops on"
    ),
    pytest.param(
        "[c.append(1) for row in table for c in row]", set(), {"table"}, id="a nested loop"
    ),
    pytest.param(
        "[[c.append(1) for c in row] for row in table]",
        set(),
        {"table"},
        id="nested comprehensions",
    ),
    pytest.param("[n + 1 for n in counts]", set(), set(), id="reading what one loops on"),
    pytest.param(
        "f = lambda rows: [r.append(0) for r in rows]", set(), set(), id="not a lambda's parameter"
    ),
]


@pytest.mark.parametrize(("source", "mutates", "may_mutate"), MUTATIONS)
def test_in_place_changes(source: str, mutates: set[str], may_mutate: set[str]) -> None:
    flow = flow_of(source)
    assert flow.mutates == mutates
    assert flow.may_mutate == may_mutate
    assert flow.mutates <= flow.may_mutate


# (source, names whose value the statement may keep)
PASSES = [
    pytest.param("y = f(x)", {"x"}, id="a direct call keeps only its arguments"),
    pytest.param("handlers = [f]", {"f"}, id="a function stored in a list"),
    pytest.param("out = map(f, xs)", {"f", "xs"}, id="a function passed on"),
    pytest.param("@deco\ndef g():\n    return h(1)", set(), id="a decorator and a call inside"),
    pytest.param("def g():\n    return [f]", {"f"}, id="a function body that keeps a name"),
    pytest.param("f = 1\ng = f", set(), id="a name bound before is not from outside"),
]


@pytest.mark.parametrize(("source", "passes"), PASSES)
def test_names_passed_on(source: str, passes: set[str]) -> None:
    assert flow_of(source).passes == passes


UNSUPPORTED = [
    pytest.param("type Vector = list[float]", "TypeAlias", id="a type statement"),
    pytest.param(
        "def first[T](xs: list[T]) -> T:\n    return xs[0]", "TypeParameters", id="PEP 695 def"
    ),
    pytest.param("class Box[T]:\n    pass", "TypeParameters", id="PEP 695 class"),
    pytest.param("x = t'{name}'", "TemplatedString", id="a template string"),
    pytest.param(
        "def f():\n    type Inner = int\n    return 1", "TypeAlias", id="nested in a function body"
    ),
]


@pytest.mark.parametrize(("source", "kind"), UNSUPPORTED)
def test_syntax_without_a_rule_is_refused(source: str, kind: str) -> None:
    """libcst parses newer syntax than the running Python: the walker must not guess at it."""
    with pytest.raises(UnsupportedSyntax) as caught:
        analyse_statement(cst.parse_statement(source))
    assert type(caught.value.node).__name__ == kind


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
    may_mutate=st.frozensets(_NAMES),
    passes=st.frozensets(_NAMES),
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


# (statement, its static form); eval, exec, globals, locals and vars are Python's own
STATIC_FORMS = [
    pytest.param("x = eval('horses')", "x = horses", id="eval of a literal name"),
    pytest.param("x = eval('len(rows) + 1')", "x = (len(rows) + 1)", id="eval of a literal"),
    pytest.param("y = globals()['rate'] * 2", "y = rate * 2", id="globals() read with a literal"),
    pytest.param("globals()['rate'] = 0.5", "rate = 0.5", id="globals() assigned at top level"),
    pytest.param("globals()['n'] += 1", "n += 1", id="globals() augmented at top level"),
    pytest.param("del globals()['n']", "del n", id="globals() item deleted"),
    pytest.param("v = locals()['rate']", "v = rate", id="locals() at a cell's top level"),
    pytest.param(
        "def f():\n    return globals()['rate']",
        "def f():\n    return rate",
        id="globals() read inside a function",
    ),
    pytest.param(
        "cfg = globals().get('CFG', {'k': 1})",
        "cfg = {'k': 1}",
        id="globals().get of a name the notebook never binds",
    ),
    pytest.param("root = globals().get('ROOT')", "root = None", id="globals().get without default"),
    pytest.param(
        "def f(**kw):\n    return locals()",
        "def f(**kw):\n    return locals()",
        id="locals() inside a function is its own",
    ),
    pytest.param(
        "out = eval(code, {'x': 1})", "out = eval(code, {'x': 1})", id="eval with its own namespace"
    ),
    pytest.param("n = vars(args)", "n = vars(args)", id="vars of an object"),
    pytest.param(
        "b = vars(__builtins__)",
        "b = vars(__import__('builtins'))",
        id="__builtins__ is the module in a notebook",
    ),
]


@pytest.mark.parametrize(("source", "expected"), STATIC_FORMS)
def test_static_forms_of_names_reached_at_run_time(source: str, expected: str) -> None:
    found = static_form(cst.parse_statement(source), DYNAMIC, {"rows", "rate", "n", "ROOT2"})
    assert not isinstance(found, Reached), found
    assert cst.Module([found]).code.strip() == expected  # type: ignore[list-item]


# (statement, the call named, why it has no static form)
REACHED = [
    pytest.param(
        "def plot_gift(g):\n    return [x.weight for x in eval(g)]",
        "eval(g)",
        "runs code that reads notebook names",
        id="eval of a value",
    ),
    pytest.param("binder.bind(globals())", "globals()", "hands on", id="the namespace passed on"),
    pytest.param("exec(program)", "exec(program)", "runs code", id="exec of a value"),
    pytest.param("names = list(locals())", "locals()", "hands on", id="locals() at top level"),
    pytest.param(
        "def f():\n    globals()['n'] = 1",
        "globals()['n']",
        "binds a notebook name from inside a function",
        id="globals() assigned in a function",
    ),
    pytest.param(
        "def f(rate):\n    return globals()['rate']",
        "globals()['rate']",
        "a function around it may bind",
        id="globals() read where a local of the same name exists",
    ),
    pytest.param(
        "cfg = globals().get('rate', 1)", "globals()", "hands on", id="get of a name that is bound"
    ),
    pytest.param("run = eval", "eval", "passed on as a value", id="eval passed on"),
]


@pytest.mark.parametrize(("source", "call", "why"), REACHED)
def test_names_reached_at_run_time_without_a_static_form(source: str, call: str, why: str) -> None:
    found = static_form(cst.parse_statement(source), DYNAMIC, {"rate"})
    assert isinstance(found, Reached)
    assert found.call == call
    assert why in found.why
