"""Calls that read data from outside the program: files, the network, databases.

Recognised by name, statically, so the serving checks can warn about a serving function that
would ship the training table with the model, or read a file or a URL on every call. The names
are the common ones (pandas' and polars' `read_*`, `open`, `json.load`, `np.load`, HTTP clients,
database drivers); a call under another name is not seen.
"""

from __future__ import annotations

import libcst as cst

_EMPTY = cst.Module([])

# Functions whose `load` reads a file (their `loads` parses text in memory, which is fine).
_FILE_LOADERS = frozenset({"json", "np", "numpy", "pickle", "joblib", "torch", "yaml", "dill"})
# Modules every call of which talks to the network, a database or remote storage.
_REMOTE_MODULES = frozenset(
    {
        "requests",
        "httpx",
        "urllib",
        "urllib3",
        "aiohttp",
        "socket",
        "boto3",
        "sqlite3",
        "psycopg",
        "psycopg2",
        "pymysql",
        "sqlalchemy",
        "duckdb",
        "pymongo",
        "redis",
        "fsspec",
        "s3fs",
        "gcsfs",
        "smart_open",
    }
)
_NAMED = frozenset({"open", "urlopen", "read_text", "read_bytes", "loadtxt", "genfromtxt"})
_NAMED |= {"fromfile", "create_engine", "fetchall", "fetchone", "fetchmany", "fetchdf"}
_NAMED |= {"fetch_df", "read_sql", "execute"}
_PREFIXES = ("read_", "scan_")
# Methods that give a table from a table (pandas, polars); a reduction (`.mean()`) does not.
_TABLE_METHODS = frozenset(
    {
        "assign",
        "astype",
        "collect",
        "copy",
        "drop",
        "drop_duplicates",
        "dropna",
        "explode",
        "fillna",
        "filter",
        "head",
        "join",
        "melt",
        "merge",
        "pipe",
        "query",
        "rename",
        "replace",
        "reset_index",
        "sample",
        "select",
        "set_index",
        "sort_index",
        "sort_values",
        "tail",
        "to_pandas",
        "where",
        "with_columns",
    }
)


def callee_path(call: cst.Call) -> tuple[str, ...]:
    """The dotted name a call calls (`pd.read_csv` -> ("pd", "read_csv")), () when it is not
    a plain name or attribute chain; a chain through calls keeps its last part (`x().fetchall`)."""
    parts: list[str] = []
    node: cst.BaseExpression = call.func
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
    elif not parts:
        return ()
    return tuple(reversed(parts))


def reads_data(call: cst.Call) -> bool:
    """Whether a call reads a file, the network or a database, by the name it calls."""
    path = callee_path(call)
    if not path:
        return False
    last = path[-1]
    if last in _NAMED or last.startswith(_PREFIXES):
        return True
    if len(path) >= 2 and path[0] in _FILE_LOADERS and last == "load":
        return True
    return len(path) >= 2 and path[0] in _REMOTE_MODULES


def describe(call: cst.Call) -> str:
    """A call's callee as the notebook writes it, for messages (`pd.read_csv`)."""
    return ".".join(callee_path(call)) or _EMPTY.code_for_node(call.func)


def table_source(value: cst.BaseExpression) -> tuple[cst.Call | None, str | None]:
    """Where a table comes from, following indexing and the methods that give a table from a
    table down to its start: the data read it starts with (`pd.read_csv(...).dropna()`), or
    the name it starts from (`rows[rows.price > 0]` -> "rows"), else (None, None)."""
    node: cst.BaseExpression = value
    while True:
        if isinstance(node, cst.Call):
            if reads_data(node):
                return node, None
            method = node.func
            if not isinstance(method, cst.Attribute) or method.attr.value not in _TABLE_METHODS:
                return None, None  # a function of a table, or a reduction, is something else
            node = method.value
        elif _indexing(node):
            assert isinstance(node, cst.Subscript | cst.Attribute)
            node = node.value
        elif isinstance(node, cst.Name):
            return None, node.value
        else:
            return None, None


def _indexing(node: cst.BaseExpression) -> bool:
    """`rows[...]`, or `rows.loc` / `rows.iloc` on the way to it."""
    if isinstance(node, cst.Subscript):
        return True
    return isinstance(node, cst.Attribute) and node.attr.value in {"loc", "iloc"}


class _Calls(cst.CSTVisitor):
    """The data-reading calls under a node, in order."""

    def __init__(self) -> None:
        self.found: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if reads_data(node):
            self.found.append(node)


def data_calls(node: cst.CSTNode) -> list[cst.Call]:
    """Every call under `node` that reads data, in source order."""
    visitor = _Calls()
    node.visit(visitor)
    return visitor.found
