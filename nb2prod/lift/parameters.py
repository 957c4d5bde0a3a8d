"""The parameters of run(): the parameters cell's assignments, each with the kind of its default.

A parameter's kind (int, float, bool, str, a path, a list, a dict, a tuple, a set, another
literal, or a computed default) is read off its default once, here; the module, the command
line and the web API all take it from the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import libcst as cst

from nb2prod.analysis.facts import immutable
from nb2prod.analysis.selection import CodeCell, statement_lines
from nb2prod.errors import NotebookError
from nb2prod.lift.statements import Imports
from nb2prod.literals import literal_value

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
_PATH_TYPES = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})


@dataclass(frozen=True)
class Parameter:
    """A keyword argument of run(), from the parameters cell."""

    name: str
    default: str
    cell: int
    value: object = None
    literal: bool = False
    path_type: str | None = None  # `Path` or `pathlib.Path` when the default is a path

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


def parameters_of(cells: Sequence[CodeCell], imports: Imports) -> tuple[Parameter, ...]:
    """The parameters cells' assignments, in order; their imports are hoisted.

    A default may read the parameters before it: `data_dir / "x.csv"` is a path when
    `data_dir` is one.
    """
    found: dict[str, Parameter] = {}
    for cell in cells:
        for line, statement in zip(statement_lines(cell.tree), cell.tree.body, strict=True):
            for small in _smalls(statement, cell, line):
                if isinstance(small, cst.Import | cst.ImportFrom):
                    imports.add_node(small)
                    continue
                name, value = _parameter_assignment(small, cell.index, line)
                parameter = _parameter(name, value, cell.index, found)
                found.pop(name, None)
                found[name] = parameter
    return tuple(found.values())


def _smalls(
    statement: cst.BaseStatement, cell: CodeCell, line: int
) -> Sequence[cst.BaseSmallStatement]:
    if isinstance(statement, cst.SimpleStatementLine):
        return statement.body
    raise NotebookError(
        "the parameters cell may only assign values (`n_customers = 120`) and import; "
        "move this block to a deploy cell",
        cell=cell.index,
        line=line,
    )


def _parameter_assignment(
    small: cst.BaseSmallStatement, cell: int, line: int
) -> tuple[str, cst.BaseExpression]:
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Name):
            return target.value, small.value
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.value:
        return small.target.value, small.value
    if isinstance(small, cst.Expr) and isinstance(
        small.value, cst.SimpleString | cst.ConcatenatedString
    ):
        raise NotebookError(
            "the parameters cell holds a bare string; make it a comment", cell, line
        )
    raise NotebookError(
        "the parameters cell may only assign one name per statement (`seed = 7`) and import; "
        "move other code to a deploy cell",
        cell=cell,
        line=line,
    )


def _parameter(
    name: str, value: cst.BaseExpression, cell: int, earlier: Mapping[str, Parameter]
) -> Parameter:
    code = _EMPTY.code_for_node(value).strip()
    found, literal = literal_value(code)
    if found:
        return Parameter(name, code, cell, value=literal, literal=True)
    paths = {n: p.path_type for n, p in earlier.items() if p.path_type is not None}
    return Parameter(name, code, cell, path_type=_path_type(value, paths))


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
