"""Comparing results: plain values, floats with a tolerance, numpy arrays and pandas objects."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb2prod.verify.comparison import MAX_DIFFERENCES, comparable_repr, differences, text_diff

NAN = float("nan")


@pytest.mark.parametrize(
    ("left", "right", "tolerance"),
    [
        pytest.param(3, 3, 0.0, id="equal ints"),
        pytest.param(NAN, NAN, 0.0, id="NaN equals NaN"),
        pytest.param(0.1 + 0.2, 0.3, 1e-9, id="floats within the tolerance"),
        pytest.param(np.float64(0.5), 0.5, 0.0, id="numpy scalar equals the Python float"),
        pytest.param(np.array([1.0, NAN]), np.array([1.0, NAN]), 0.0, id="arrays with NaN"),
        pytest.param(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]), 1e-9, id="close arrays"),
        pytest.param(np.array(["a", "b"]), np.array(["a", "b"]), 0.0, id="string arrays"),
        pytest.param(
            {"a": [1, (2.0, NAN)], "b": np.arange(3)},
            {"a": [1, (2.0, NAN)], "b": np.arange(3)},
            0.0,
            id="nested containers holding arrays",
        ),
        pytest.param(
            pd.DataFrame({"x": [1.0, NAN], "y": ["a", "b"]}),
            pd.DataFrame({"x": [1.0, NAN], "y": ["a", "b"]}),
            0.0,
            id="frames with NaN",
        ),
        pytest.param(
            pd.Series([1.0, 2.0], name="s"),
            pd.Series([1.0, 2.0 + 1e-12], name="s"),
            1e-9,
            id="series within the tolerance",
        ),
        pytest.param(pd.Index([1, 2]), pd.Index([1, 2]), 0.0, id="indexes"),
    ],
)
def test_equal(left: Any, right: Any, tolerance: float) -> None:
    assert differences(left, right, tolerance) == []


@pytest.mark.parametrize(
    ("left", "right", "tolerance", "expected"),
    [
        pytest.param(1, 2, 0.0, "result: 1 != 2", id="plain values"),
        pytest.param(0.1 + 0.2, 0.3, 0.0, "result: 0.30000000000000004 != 0.3", id="exact floats"),
        pytest.param(1.0, 1.1, 1e-3, "result: 1.0 != 1.1 (differ by 0.1)", id="beyond tolerance"),
        pytest.param(1, "1", 0.0, "result: int 1 != str '1'", id="different types"),
        pytest.param(
            {"a": 1, "b": 2}, {"a": 1, "c": 2}, 0.0, "result: key 'b' only in", id="missing key"
        ),
        pytest.param(
            {"m": [1, 2.0]}, {"m": [1, 2.5]}, 0.0, "result['m'][1]: 2.0 != 2.5", id="nested path"
        ),
        pytest.param(
            np.array([[1, 2], [3, 4]]),
            np.array([[1, 2], [3, 5]]),
            0.0,
            "result[1, 1]: np.int64(4) != np.int64(5) (1 of 4 elements differ)",
            id="array element",
        ),
        pytest.param(np.zeros(3), np.zeros(4), 0.0, "result: shape (3,) != (4,)", id="array shape"),
        pytest.param(np.array([NAN]), np.array([0.0]), 0.0, "result[0]: ", id="NaN is not 0"),
        pytest.param(
            pd.DataFrame({"x": [1, 2]}),
            pd.DataFrame({"x": [1, 3]}),
            0.0,
            'result: DataFrame.iloc[:, 0] (column name="x") are different',
            id="frame values",
        ),
        pytest.param(
            pd.Series([1.0]), pd.Series([1.5]), 0.1, "result: Series are different", id="series"
        ),
        pytest.param(
            pd.DataFrame({"x": [1]}), {"x": [1]}, 0.0, "result: DataFrame", id="frame vs dict"
        ),
    ],
)
def test_different(left: Any, right: Any, tolerance: float, expected: str) -> None:
    found = differences(left, right, tolerance)
    assert found, "the values must differ"
    assert found[0].startswith(expected), found


def test_many_differences_are_cut_short() -> None:
    found = differences(list(range(20)), list(range(1, 21)))
    assert len(found) == MAX_DIFFERENCES + 1
    assert found[-1] == f"... and {20 - MAX_DIFFERENCES} more difference(s)"


def test_text_diff_is_short_and_names_both_sides() -> None:
    left = "\n".join(f"line {i}" for i in range(50))
    right = left.replace("line 7", "line seven")
    diff = text_diff(left, right)
    assert diff[:2] == ["--- notebook", "+++ pipeline"]
    assert "-line 7" in diff and "+line seven" in diff
    assert len(diff) <= 13


class Shown:
    """Equal only to itself, as objects are by default; its repr shows what it holds."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Shown({self.value!r})"


class Opaque:
    """Equal only to itself, with the default repr (`<... object at 0x...>`)."""


IDENTITY = [
    pytest.param(Shown(1), Shown(1), [], id="shown alike"),
    pytest.param(Opaque(), Opaque(), [], id="default reprs, addresses left out"),
    pytest.param([Shown("a")], [Shown("a")], [], id="inside a list"),
    pytest.param(Shown(1), Shown(2), ["result: Shown(1) != Shown(2)"], id="shown apart"),
]


@pytest.mark.parametrize(("left", "right", "expected"), IDENTITY)
def test_objects_equal_only_to_themselves_compare_by_repr(
    left: Any, right: Any, expected: list[str]
) -> None:
    """Two runs never make the same object: a matplotlib artist or an IPython display object
    (no `__eq__`) from the kernel and from run() agree when they show the same."""
    assert differences(left, right) == expected


REPRS = [
    pytest.param(
        "<generator object load.<locals>.<genexpr> at 0x7f3e>",
        ["load"],
        "<generator object <genexpr> at 0x...>",
        id="a generator made in a step",
    ),
    pytest.param(
        "[<function load.<locals>.score.<locals>.f at 0x1>]",
        ["load"],
        "[<function score.<locals>.f at 0x...>]",
        id="only the step's scope goes",
    ),
    pytest.param(
        "<function reload.<locals>.f>", ["load"], "<function reload.<locals>.f>", id="whole names"
    ),
]


@pytest.mark.parametrize(("text", "steps", "expected"), REPRS)
def test_comparable_repr(text: str, steps: list[str], expected: str) -> None:
    assert comparable_repr(text, scopes=steps) == expected
