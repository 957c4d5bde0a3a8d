"""Which calls change their objects in place: the one table of known-mutating and known-pure calls.

A static analysis cannot know the type behind a name, so calls are judged by their names, the
way a reader of a notebook judges them: `rows.append(x)` changes `rows`, `frame.head()` does
not, `frame.dropna(inplace=True)` does. Two answers come out of the table:

- known to mutate: a method of the mutating table (list, dict, set and deque methods, fitting
  an estimator, `set_params`), any method called with `inplace=True`, a function of the
  table that changes its first argument (`random.shuffle(x)`);
- may mutate: that, and every method that is not in the known-pure table. This is the
  conservative answer a step runner needs before it may share a value between steps.

Names are judged by the root of the receiver: `self.items.append(v)` changes `self`.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

MUTATING_METHODS = frozenset(
    {
        # list (and pandas' DataFrame.insert and pop, which work in place too)
        *("append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"),
        # dict and set
        *("update", "setdefault", "popitem", "add", "discard"),
        *("difference_update", "intersection_update", "symmetric_difference_update"),
        # collections.deque
        *("appendleft", "extendleft", "popleft", "rotate"),
        # numpy arrays changed in place
        *("fill", "resize", "put", "itemset", "setflags"),
        # estimators and models: fitting changes the object
        *("fit", "partial_fit", "fit_transform", "fit_predict", "set_params", "set_output"),
        *("compile", "train", "load_state_dict", "zero_grad", "requires_grad_"),
    }
)

PURE_METHODS = frozenset(
    {
        # looking things up and copying
        *("copy", "get", "keys", "values", "items", "index", "count", "__contains__"),
        # str and bytes (immutable)
        *("format", "join", "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip"),
        *("lower", "upper", "title", "capitalize", "casefold", "startswith", "endswith"),
        *("find", "rfind", "rindex", "replace", "encode", "decode", "zfill", "center"),
        *("ljust", "rjust", "partition", "rpartition", "isdigit", "isalpha", "isalnum"),
        *("isspace", "isupper", "islower", "isnumeric", "format_map", "translate"),
        # numbers and arrays, as values
        *("sum", "mean", "median", "std", "var", "min", "max", "prod", "cumsum", "abs"),
        *("round", "argmax", "argmin", "argsort", "all", "any", "dot", "nonzero"),
        *("reshape", "ravel", "flatten", "transpose", "astype", "tolist", "to_numpy", "item"),
        *("conjugate", "bit_length", "is_integer", "as_integer_ratio", "hex"),
        # pandas views and summaries (without inplace=True)
        *("head", "tail", "describe", "info", "groupby", "agg", "aggregate", "apply"),
        *("map", "merge", "join", "concat", "pivot", "pivot_table", "melt", "query", "eval"),
        *("isna", "isnull", "notna", "notnull", "unique", "nunique", "value_counts"),
        *("sort_values", "sort_index", "drop", "dropna", "fillna", "rename", "reset_index"),
        *("set_index", "assign", "sample", "to_dict", "to_list", "to_frame", "corr", "cov"),
        *("quantile", "rolling", "resample", "shift", "diff", "pct_change", "clip", "where"),
        *("filter", "select_dtypes", "nlargest", "nsmallest", "duplicated", "drop_duplicates"),
        *("iterrows", "itertuples", "mask", "explode", "stack", "unstack", "idxmax", "idxmin"),
        # estimators used, not changed
        *("predict", "predict_proba", "predict_log_proba", "decision_function", "score"),
        *("transform", "inverse_transform", "get_params", "get_feature_names_out"),
    }
)

# Functions, by the dotted name they are called with, that change their first argument.
MUTATING_FUNCTIONS = frozenset(
    {
        *("random.shuffle", "np.random.shuffle", "numpy.random.shuffle"),
        *("heapq.heappush", "heapq.heappop", "heapq.heapify", "heapq.heapreplace"),
        *("heapq.heappushpop", "bisect.insort", "bisect.insort_left", "bisect.insort_right"),
        *("np.copyto", "numpy.copyto", "np.put", "numpy.put", "np.place", "numpy.place"),
        *("np.fill_diagonal", "numpy.fill_diagonal"),
    }
)

# Methods that change their first argument (a random generator's `rng.shuffle(x)`).
_ARGUMENT_MUTATING_METHODS = frozenset({"shuffle"})


@dataclass(frozen=True)
class CallEffect:
    """What a call may change in place: names known to change, and names that may."""

    mutates: frozenset[str] = frozenset()
    may_mutate: frozenset[str] = frozenset()


NO_EFFECT = CallEffect()


def call_effect(call: cst.Call) -> CallEffect:
    """The names a call changes in place, judged by the table (see the module docstring)."""
    func = call.func
    changed: set[str] = set()
    maybe: set[str] = set()
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        if method in MUTATING_METHODS or _inplace(call):
            changed |= _root(func.value, through_calls=False)
        if method in MUTATING_METHODS or _inplace(call) or method not in PURE_METHODS:
            maybe |= _root(func.value, through_calls=True)
        if method in _ARGUMENT_MUTATING_METHODS:
            changed |= _first_argument(call)
    if _dotted(func) in MUTATING_FUNCTIONS:
        changed |= _first_argument(call)
    if not changed and not maybe:
        return NO_EFFECT
    return CallEffect(frozenset(changed), frozenset(changed | maybe))


def _inplace(call: cst.Call) -> bool:
    return any(
        arg.keyword is not None
        and arg.keyword.value == "inplace"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "True"
        for arg in call.args
    )


def _first_argument(call: cst.Call) -> set[str]:
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return _root(positional[0].value, through_calls=False) if positional else set()


def _root(node: cst.BaseExpression, *, through_calls: bool) -> set[str]:
    """The name an object is reached from: `a` for `a.b[0]`, and for `a.b().c` when
    `through_calls` (a method's result may be a view of its receiver)."""
    while True:
        if isinstance(node, cst.Attribute | cst.Subscript):
            node = node.value
        elif through_calls and isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            node = node.func.value
        else:
            break
    return {node.value} if isinstance(node, cst.Name) else set()


def _dotted(node: cst.BaseExpression) -> str | None:
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    return ".".join([node.value, *reversed(parts)])
