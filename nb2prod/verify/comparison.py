"""Compare two results as a data scientist means equal: numpy, pandas and floats included."""

from __future__ import annotations

import difflib
import math
import numbers
import pprint
import re
from collections.abc import Callable, Sequence
from typing import Any

from nb2prod.emit.golden import MEMORY_ADDRESS

MAX_DIFFERENCES = 8
MAX_WIDTH = 160


def differences(left: Any, right: Any, tolerance: float = 0.0, where: str = "result") -> list[str]:
    """Where `left` and `right` differ, one line each (at most a few); empty when they are equal.

    Floats, numpy arrays and pandas objects match within `tolerance` (relative and absolute),
    NaN matches NaN, and containers are compared item by item. numpy and pandas are imported
    only when a value comes from them, so neither is needed to compare plain values.
    """
    found = _differences(left, right, tolerance, where)
    if len(found) > MAX_DIFFERENCES:
        more = len(found) - MAX_DIFFERENCES
        found = [*found[:MAX_DIFFERENCES], f"... and {more} more difference(s)"]
    return found


def _differences(left: Any, right: Any, tolerance: float, where: str) -> list[str]:
    for applies, compare in _COMPARERS:
        if applies(left) or applies(right):
            return compare(left, right, tolerance, where)
    return _plain(left, right, where)


def _from(package: str) -> Callable[[Any], bool]:
    return lambda value: type(value).__module__.split(".")[0] == package


def _pandas(left: Any, right: Any, tolerance: float, where: str) -> list[str]:
    import pandas as pd
    from pandas import testing

    checks: list[tuple[type, Callable[..., None]]] = [
        (pd.DataFrame, testing.assert_frame_equal),
        (pd.Series, testing.assert_series_equal),
        (pd.Index, testing.assert_index_equal),
    ]
    for kind, check in checks:
        if isinstance(left, kind) and isinstance(right, kind):
            try:
                check(left, right, **_pandas_tolerance(tolerance))
            except AssertionError as exc:
                return [f"{where}: {_first_line(str(exc))}"]
            return []
    return _plain(left, right, where)


def _pandas_tolerance(tolerance: float) -> dict[str, Any]:
    if tolerance <= 0:
        return {"check_exact": True}
    return {"check_exact": False, "rtol": tolerance, "atol": tolerance}


def _numpy(left: Any, right: Any, tolerance: float, where: str) -> list[str]:
    import numpy as np

    if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
        return _arrays(left, right, tolerance, where)
    if isinstance(left, np.ndarray) or isinstance(right, np.ndarray):
        return _kind_mismatch(left, right, where)
    scalars = [v.item() if isinstance(v, np.generic) else v for v in (left, right)]
    if scalars[0] is left and scalars[1] is right:  # numpy objects that are not values
        return _plain(left, right, where)
    # numpy scalars compare as the Python values they hold (np.float64(0.5) and 0.5 match)
    return _differences(scalars[0], scalars[1], tolerance, where)


def _arrays(left: Any, right: Any, tolerance: float, where: str) -> list[str]:
    import numpy as np

    if left.shape != right.shape:
        return [f"{where}: shape {left.shape} != {right.shape}"]
    same = _array_close(left, right, tolerance)
    if same.all():
        return []
    index = tuple(int(i) for i in np.argwhere(~same)[0])
    place = ", ".join(map(str, index))
    count = int((~same).sum())
    return [
        f"{where}[{place}]: {_short(left[index])} != {_short(right[index])}"
        f" ({count} of {same.size} elements differ)"
    ]


def _array_close(left: Any, right: Any, tolerance: float) -> Any:
    """Element-wise equality, NaN equal to NaN, numbers within `tolerance`."""
    import numpy as np

    numeric = all(np.issubdtype(a.dtype, np.number) for a in (left, right))
    if numeric:
        return np.isclose(left, right, rtol=tolerance, atol=tolerance, equal_nan=True)
    equal = np.asarray(left == right, dtype=bool)
    if equal.shape != left.shape:  # elementwise comparison failed: compare item by item
        flat = [
            not _differences(a, b, tolerance, "")
            for a, b in zip(left.flat, right.flat, strict=True)
        ]
        return np.array(flat, dtype=bool).reshape(left.shape)
    return equal


def _float(left: Any, right: Any, tolerance: float, where: str) -> list[str]:
    if not (_is_real(left) and _is_real(right)):
        return _kind_mismatch(left, right, where)
    a, b = float(left), float(right)
    if (math.isnan(a) and math.isnan(b)) or math.isclose(
        a, b, rel_tol=tolerance, abs_tol=tolerance
    ):
        return []
    return [f"{where}: {left!r} != {right!r} (differ by {abs(a - b):.3g})"]


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real)


def _mapping(left: Any, right: Any, tolerance: float, where: str) -> list[str]:
    if not (isinstance(left, dict) and isinstance(right, dict)):
        return _kind_mismatch(left, right, where)
    found = [f"{where}: key {key!r} only in the notebook's" for key in left if key not in right]
    found += [f"{where}: key {key!r} only in the pipeline's" for key in right if key not in left]
    for key in (k for k in left if k in right):
        found += _differences(left[key], right[key], tolerance, f"{where}[{key!r}]")
    return found


def _sequence(left: Any, right: Any, tolerance: float, where: str) -> list[str]:
    if type(left) is not type(right):
        return _kind_mismatch(left, right, where)
    found = []
    if len(left) != len(right):
        found.append(f"{where}: length {len(left)} != {len(right)}")
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        found += _differences(a, b, tolerance, f"{where}[{index}]")
    return found


def _plain(left: Any, right: Any, where: str) -> list[str]:
    try:
        if bool(left == right):
            return []
    except Exception:  # an == that raises or is ambiguous means we cannot call them equal
        pass
    if type(left) is not type(right):
        return _kind_mismatch(left, right, where)
    if _equal_by_identity(left) and comparable_repr(_text(left)) == comparable_repr(_text(right)):
        return []  # two runs never make the same object: what they show is what can agree
    return [f"{where}: {_short(left)} != {_short(right)}"]


def _equal_by_identity(value: Any) -> bool:
    """Whether `==` on the value's class is object's own, which is identity (a matplotlib
    artist, an IPython display object)."""
    return not any("__eq__" in vars(kind) for kind in type(value).__mro__ if kind is not object)


def comparable_repr(text: str, prefixes: Sequence[str] = (), scopes: Sequence[str] = ()) -> str:
    """A repr without what differs between two runs of the same code: memory addresses, the
    defining module (`prefixes`, such as `__main__.`) and the functions the code ran inside
    (`scopes`: the pipeline's step functions, which its generators and closures name, as in
    `<generator object load.<locals>.<genexpr>>`)."""
    for prefix in prefixes:
        text = text.replace(prefix, "")
    if scopes:
        names = "|".join(re.escape(scope) for scope in scopes)
        text = re.sub(rf"(?<![\w.])(?:{names})\.<locals>\.", "", text)
    return MEMORY_ADDRESS.sub("at 0x...", text)


def _kind_mismatch(left: Any, right: Any, where: str) -> list[str]:
    return [
        f"{where}: {type(left).__name__} {_short(left)} != {type(right).__name__} {_short(right)}"
    ]


_COMPARERS: list[tuple[Callable[[Any], bool], Callable[[Any, Any, float, str], list[str]]]] = [
    (_from("pandas"), _pandas),
    (_from("numpy"), _numpy),
    (lambda value: isinstance(value, float), _float),
    (lambda value: isinstance(value, dict), _mapping),
    (lambda value: isinstance(value, list | tuple), _sequence),
]


def text_diff(left: str, right: str, limit: int = 12) -> list[str]:
    """A short unified diff of two reprs, for values only comparable as text."""
    lines = list(
        difflib.unified_diff(
            _pretty_lines(left), _pretty_lines(right), "notebook", "pipeline", lineterm="", n=1
        )
    )
    return lines[:limit] + (
        [f"... ({len(lines) - limit} more diff lines)"] if len(lines) > limit else []
    )


def _pretty_lines(text: str) -> list[str]:
    return (
        pprint.pformat(text, width=MAX_WIDTH).splitlines()
        if "\n" not in text
        else text.splitlines()
    )


def _short(value: Any) -> str:
    text = " ".join(_text(value).split())
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 3] + "..."


def _text(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} with a failing repr>"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:4])[: MAX_WIDTH * 2]
