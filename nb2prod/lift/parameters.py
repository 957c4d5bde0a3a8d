"""The parameters of run(): the parameters cell's assignments, each with the kind of its default.

A parameter's kind (int, float, bool, str, a path, a list, a dict, a tuple, a set, another
literal, or a computed default) is read off its default once, here, and so is whether it names
a place on disk; the module, the command line and the web API all take both from the parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import libcst as cst

from nb2prod.analysis.facts import immutable
from nb2prod.analysis.flow import analyse_statement
from nb2prod.analysis.selection import CodeCell
from nb2prod.lift.statements import Imports, Place, Statement, StepCells
from nb2prod.literals import as_json, literal_value
from nb2prod.naming import BUILTINS

_EMPTY = cst.Module([])


class Kind(StrEnum):
    """What a parameter's default is."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    PATH = "path"  # `Path(...)`: a data location
    LIST = "list"
    DICT = "dict"
    TUPLE = "tuple"
    SET = "set"
    NONE = "none"  # `None`, which says nothing about the type
    OTHER = "other"  # another literal: bytes, complex, a frozenset
    COMPUTED = "computed"  # an expression, evaluated when run() is called


_SCALARS: dict[type, Kind] = {int: Kind.INT, float: Kind.FLOAT, bool: Kind.BOOL, str: Kind.STR}
_CONTAINERS: dict[type, Kind] = {list: Kind.LIST, dict: Kind.DICT, tuple: Kind.TUPLE, set: Kind.SET}
# The JSON schema type of each kind's value as JSON carries it: a path as text, tuples and sets
# as arrays. Other kinds take any JSON value.
_JSON_TYPES = {
    Kind.INT: "integer",
    Kind.FLOAT: "number",
    Kind.BOOL: "boolean",
    Kind.STR: "string",
    Kind.PATH: "string",
    Kind.LIST: "array",
    Kind.TUPLE: "array",
    Kind.SET: "array",
    Kind.DICT: "object",
}
_PATH_TYPES = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})
# Text that names a file or folder: a separator, or a file extension (`model.pkl`, `data/`).
_PATH_TEXT = re.compile(r"[/\\]|\.[A-Za-z][A-Za-z0-9]{0,9}$")


@dataclass(frozen=True)
class Parameter:
    """A keyword argument of run(), from the parameters cell."""

    name: str
    default: str
    cell: int
    value: object = None
    literal: bool = False
    path_type: str | None = None  # `Path` or `pathlib.Path` when the default is a path
    builds_path: bool = False  # a computed default that makes a path (`os.path.join(...)`)

    @property
    def inline(self) -> bool:
        """Whether the default can stand in the signature: an immutable literal."""
        return self.literal and immutable(self.value)

    @cached_property
    def kind(self) -> Kind:
        if self.path_type is not None:
            return Kind.PATH
        if not self.literal:
            return Kind.COMPUTED
        if self.value is None:
            return Kind.NONE
        kind = type(self.value)
        return _SCALARS.get(kind) or _CONTAINERS.get(kind) or Kind.OTHER

    @cached_property
    def item(self) -> str | None:
        """The one type (int, float, str or bool) of a non-empty list, tuple or set's items."""
        value = self.value
        if not isinstance(value, list | set | tuple | frozenset) or not value:
            return None
        kinds = {type(item) for item in value}
        return kinds.pop().__name__ if len(kinds) == 1 and kinds <= set(_SCALARS) else None

    @cached_property
    def annotation(self) -> str | None:
        """The type a default suggests (`int`, `list[str]`, `tuple[str, ...]`, `Path`), or None
        when unclear. A tuple's type does not fix its length: `tuple[str]` would mean one item."""
        if self.path_type is not None:
            return self.path_type
        if self.kind in {Kind.COMPUTED, Kind.NONE}:
            return None
        container = type(self.value).__name__
        if self.item is None:
            return container
        if self.kind is Kind.TUPLE:
            return f"tuple[{self.item}, ...]"
        return f"{container}[{self.item}]"

    @cached_property
    def is_path(self) -> bool:
        """Whether the default names a place on disk: a `Path`, text with a separator or a file
        extension (`data/2024-05-01_x.csv`, `model.pkl`), a container holding such text, or a
        computed default that builds one. Who may choose such a value is the project's call."""
        if self.path_type is not None or self.builds_path:
            return True
        return self.literal and _holds_path_text(self.value)

    @cached_property
    def json_type(self) -> str | None:
        """The JSON schema type of the parameter's value (`integer`, `array`), None for any."""
        return _JSON_TYPES.get(self.kind)

    @cached_property
    def json_item(self) -> str | None:
        """The JSON schema type of a list's, tuple's or set's items, when they have one."""
        return _JSON_TYPES.get(_SCALARS[_ITEM_TYPES[self.item]]) if self.item else None

    @cached_property
    def json_default(self) -> object:
        """The default as a JSON value (tuples and sets as arrays, sets sorted so that output
        is byte-identical), or None when it is computed or JSON cannot hold it."""
        return as_json(self.value) if self.literal else None

    @cached_property
    def json_exact(self) -> bool:
        """Whether the JSON default, taken back as this kind (an array as a tuple or set), is
        the default itself: False for `[(1, 2)]`, `{1: "a"}` or a computed default."""
        value = self.value
        if not self.literal or value is None:
            return self.literal
        if isinstance(value, tuple | set):  # arrays in JSON, taken back as their kind
            return all(_json_exact(item) for item in value)
        return _json_exact(value)


_ITEM_TYPES = {kind.__name__: kind for kind in _SCALARS}


def _json_exact(value: object) -> bool:
    """A value JSON gives back as it is: lists, text-keyed dicts, text, numbers, bools, None."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_exact(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v) for k, v in value.items())
    return value is None or type(value) in (str, int, bool)


def module_names_read(parameters: Sequence[Parameter]) -> tuple[str, ...]:
    """The module's names (imports, definitions) that the defaults read, in order: what code
    filling in the defaults needs from the pipeline module besides the parameters."""
    own = {p.name for p in parameters}
    names: dict[str, None] = {}
    for parameter in parameters:
        flow = analyse_statement(cst.parse_statement(f"_ = {parameter.default}"))
        names.update(dict.fromkeys(n for n in flow.reads if n not in own and n not in BUILTINS))
    return tuple(names)


# The step that runs a parameters cell's other statements, first in run().
PROLOGUE = "Parameters cell"


def parameters_of(
    cells: Sequence[CodeCell], imports: Imports
) -> tuple[tuple[Parameter, ...], list[StepCells]]:
    """The parameters cells' assignments, in order, and a step of their other statements.

    A parameters cell may hold any code, as papermill runs it: each name it assigns a value
    (`seed = 7`, `low, high = 2, 9`) is a parameter, bound by run()'s keyword argument; the
    other statements (a print, a call, a loop, an assignment computed from what such code
    changed) run at the start of run(), after the parameters are bound, in the cell's order.
    Imports are hoisted.
    """
    reading = _Reading()
    for cell in cells:
        for position, statement in enumerate(cell.tree.body, start=1):
            reading.statement(cell.index, position, statement, imports)
    return tuple(reading.found.values()), _prologue(cells, reading.others)


class _Reading:
    """The parameters and other statements of parameters cells, read in order."""

    def __init__(self) -> None:
        self.found: dict[str, Parameter] = {}
        self.others: list[Statement] = []
        self.changed: set[str] = set()  # bound or changed in place by the other statements
        self.read_since: set[str] = set()  # parameters the other statements read

    def statement(
        self, cell: int, position: int, node: cst.BaseStatement, imports: Imports
    ) -> None:
        if not isinstance(node, cst.SimpleStatementLine):
            self._other(Place(cell, position), node)
            return
        for offset, small in enumerate(node.body):
            if isinstance(small, cst.Import | cst.ImportFrom):
                imports.add_node(small)
                continue
            assigned = self._assigned(small, cell)
            if assigned is not None:
                for parameter in assigned:
                    self.found.pop(parameter.name, None)
                    self.found[parameter.name] = parameter
                continue
            bare = small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            leading = node.leading_lines if offset == 0 else ()
            self._other(Place(cell, position, offset), cst.SimpleStatementLine([bare], leading))

    def _other(self, place: Place, node: cst.BaseStatement) -> None:
        if _has_no_effect(node):
            return  # a bare string or name: a note to the reader, which runs as nothing
        statement = Statement.of(place, node)
        self.others.append(statement)
        flow = statement.flow
        # what the statement reads it may change in place (`steps.append(n)`), unless it is
        # a parameter whose default cannot change: an immutable literal or a path
        fixed = {p.name for p in self.found.values() if p.inline or p.kind is Kind.PATH}
        self.changed |= {*flow.writes, *flow.mutates, *(set(flow.names_read) - fixed)}
        self.read_since |= set(flow.names_read) & set(self.found)

    def _assigned(self, small: cst.BaseSmallStatement, cell: int) -> list[Parameter] | None:
        """The parameters an assignment gives, or None when it must run as a statement."""
        pairs = _pairs(small)
        if pairs is None:
            return None
        targets = {name for name, _ in pairs}
        read: set[str] = set()
        for name, value in pairs:
            reads = set(analyse_statement(cst.SimpleStatementLine([cst.Expr(value)])).names_read)
            # computed from what the other statements changed, from itself or from another
            # target of the same line, or bound again after code or a default read it: it
            # runs in order
            if reads & (self.changed | targets) or name in self.changed | self.read_since:
                return None
            read |= reads
        # a default computed from a parameter (`m = n`) takes its value now: binding that
        # parameter again later (`n = 2`) runs in order, after it
        self.read_since |= read & set(self.found)
        return [_parameter(name, value, cell, self.found) for name, value in pairs]


def _pairs(small: cst.BaseSmallStatement) -> list[tuple[str, cst.BaseExpression]] | None:
    """(name, value) of `name = value`, `name: T = value`, `a, b = x, y` and `a = b = <literal>`."""
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.value:
        return [(small.target.value, small.value)]
    if not isinstance(small, cst.Assign):
        return None
    targets = [target.target for target in small.targets]
    if len(targets) == 1:
        return _unpacked(targets[0], small.value)
    names = [t.value for t in targets if isinstance(t, cst.Name)]
    found, value = literal_value(_EMPTY.code_for_node(small.value))
    if len(names) == len(targets) and len(set(names)) == len(names) and found and immutable(value):
        return [(name, small.value) for name in names]  # one immutable value: no aliasing lost
    return None


def _unpacked(
    target: cst.BaseAssignTargetExpression, value: cst.BaseExpression
) -> list[tuple[str, cst.BaseExpression]] | None:
    if isinstance(target, cst.Name):
        return [(target.value, value)]
    if not isinstance(target, cst.Tuple | cst.List) or not isinstance(value, cst.Tuple | cst.List):
        return None
    names = [e.value.value for e in target.elements if isinstance(e.value, cst.Name)]
    values = [e.value for e in value.elements if isinstance(e, cst.Element)]
    same = len(names) == len(target.elements) == len(values) == len(value.elements)
    if not same or len(set(names)) != len(names):
        return None  # a starred target or value, or a name twice: the statement runs as it is
    return list(zip(names, values, strict=True))


def _has_no_effect(node: cst.BaseStatement) -> bool:
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return False
    small = node.body[0]
    quiet = (cst.SimpleString, cst.ConcatenatedString, cst.Name, cst.Ellipsis)
    return isinstance(small, cst.Pass) or (
        isinstance(small, cst.Expr) and isinstance(small.value, quiet)
    )


def _prologue(cells: Sequence[CodeCell], statements: Sequence[Statement]) -> list[StepCells]:
    """The step of the parameters cells' other statements, if they have any."""
    if not statements:
        return []
    used = {statement.cell for statement in statements}
    chosen = tuple(cell for cell in cells if cell.index in used)
    return [StepCells(("named", PROLOGUE), chosen, tuple(statements))]


def _parameter(
    name: str, value: cst.BaseExpression, cell: int, earlier: Mapping[str, Parameter]
) -> Parameter:
    code = _EMPTY.code_for_node(value).strip()
    found, literal = literal_value(code)
    if found:
        return Parameter(name, code, cell, value=literal, literal=True)
    paths = {n: p.path_type for n, p in earlier.items() if p.path_type is not None}
    path_type = _path_type(value, paths)
    builds = path_type is None and _builds_path(value, {n for n, p in earlier.items() if p.is_path})
    return Parameter(name, code, cell, path_type=path_type, builds_path=builds)


def _path_type(value: cst.BaseExpression, paths: Mapping[str, str]) -> str | None:
    """The path class a default makes: `Path` for `Path(...)`, `pathlib.Path` for
    `pathlib.Path(...)`, the class of `data_dir` for `data_dir / "x.csv"`; None otherwise."""
    if isinstance(value, cst.Name):
        return paths.get(value.value)
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Divide):
        return _path_type(value.left, paths)
    if not isinstance(value, cst.Call):
        return None
    function = value.func
    name = function.attr.value if isinstance(function, cst.Attribute) else None
    if isinstance(function, cst.Name):
        name = function.value
    if name not in _PATH_TYPES:
        return None
    return _EMPTY.code_for_node(function)


def _holds_path_text(value: object) -> bool:
    if isinstance(value, str):
        return _PATH_TEXT.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_path_text(item) for item in (*value.keys(), *value.values()))
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_path_text(item) for item in value)
    return False


class _PathHints(cst.CSTVisitor):
    """Whether an expression builds a path: it reads a path parameter or a path class, calls
    `os.path`, or holds text naming a file or folder."""

    def __init__(self, path_names: set[str]) -> None:
        self.path_names = path_names | _PATH_TYPES
        self.found = False

    def visit_Name(self, node: cst.Name) -> None:
        self.found = self.found or node.value in self.path_names

    def visit_Attribute(self, node: cst.Attribute) -> None:
        base = node.value
        if isinstance(base, cst.Name) and base.value == "os" and node.attr.value == "path":
            self.found = True

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.found = self.found or _holds_path_text(literal_value(node.value)[1])

    def visit_FormattedStringText(self, node: cst.FormattedStringText) -> None:
        self.found = self.found or _PATH_TEXT.search(node.value) is not None


def _builds_path(value: cst.BaseExpression, path_names: set[str]) -> bool:
    hints = _PathHints(path_names)
    value.visit(hints)
    return hints.found
