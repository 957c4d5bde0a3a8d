"""Deploy cells as top-level statements with their flows, grouped into steps; imports hoisted.

A step is a run of consecutive deploy cells under one markdown heading or one `step:NAME`
mark. Imports leave the steps for the top of the module, de-duplicated in order, except an
import that would shadow the pipeline's own `run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from nb2prod.cells import CodeCell, statement_lines
from nb2prod.dataflow import Flow, analyse_statement, function_free_names, sequence

# Names IPython provides in a notebook that the module must provide itself.
DISPLAY = "display"
# The pipeline's entry point: a notebook's own `run` stays inside its step.
RUN = "run"
_IPYTHON_DISPLAY_MODULES = ("IPython.display", "IPython.core.display")
_EMPTY = cst.Module([])


@dataclass(eq=False)
class Statement:
    """A top-level statement of a cell, with the flow it has."""

    cell: int
    node: cst.BaseStatement
    flow: Flow
    last_in_cell: bool = False
    order: int = 0

    @property
    def is_definition(self) -> bool:
        return isinstance(self.node, cst.FunctionDef | cst.ClassDef)


@dataclass
class StepCells:
    """Consecutive deploy cells that form one step."""

    key: tuple[str, object]
    cells: list[CodeCell] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)


class Imports:
    """Hoisted imports, de-duplicated in order; `from __future__` first."""

    def __init__(self) -> None:
        self.seen: dict[str, cst.SimpleStatementLine] = {}
        self.bound: set[str] = set()
        self.star: list[str] = []

    def add(self, small: cst.Import | cst.ImportFrom) -> None:
        small = _without_display_import(small)  # type: ignore[assignment]
        if small is None:
            return
        line = cst.SimpleStatementLine(
            body=[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)]
        )
        key = _EMPTY.code_for_node(line).strip()
        self.seen.setdefault(key, line)
        flow = analyse_statement(line)
        self.bound |= set(flow.writes)
        self.star += [m for m in flow.star_imports if m not in self.star]

    def statements(self) -> tuple[cst.SimpleStatementLine, ...]:
        future = [s for k, s in self.seen.items() if k.startswith("from __future__")]
        rest = [s for k, s in self.seen.items() if not k.startswith("from __future__")]
        return tuple(future + rest)


def _without_display_import(
    node: cst.Import | cst.ImportFrom,
) -> cst.Import | cst.ImportFrom | None:
    """`from IPython.display import display` goes: the module brings its own display()."""
    if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar):
        return node
    module = _EMPTY.code_for_node(node.module) if node.module else ""
    if module not in _IPYTHON_DISPLAY_MODULES:
        return node
    kept = [a for a in node.names if not (_alias_name(a) == DISPLAY and a.asname is None)]
    if not kept:
        return None
    kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return node.with_changes(names=kept)


def _alias_name(alias: cst.ImportAlias) -> str:
    return _EMPTY.code_for_node(alias.name)


def is_import(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Import | cst.ImportFrom)


def group_cells(deploy: Sequence[CodeCell], imports: Imports) -> list[StepCells]:
    """Hoist imports and group the remaining statements into steps, in notebook order."""
    groups: list[StepCells] = []
    for cell in deploy:
        key = _step_key(cell)
        if not groups or groups[-1].key != key:
            groups.append(StepCells(key))
        group = groups[-1]
        group.cells.append(cell)
        for position, statement in enumerate(cell.tree.body, start=1):
            nodes = without_imports(statement, imports)
            for offset, node in enumerate(nodes):
                last = position == len(cell.tree.body) and node is nodes[-1]
                order = (cell.index * 10_000 + position) * 100 + offset
                flow = analyse_statement(node)
                group.statements.append(Statement(cell.index, node, flow, last, order))
    return groups


def _step_key(cell: CodeCell) -> tuple[str, object]:
    if cell.step is not None:
        return ("named", cell.step)
    return ("heading", cell.heading)


def without_imports(statement: cst.BaseStatement, imports: Imports) -> list[cst.BaseStatement]:
    """Hoist the imports of a statement line; what else it holds stays, without semicolons."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return [statement]
    if not any(is_import(small) for small in statement.body):
        return [strip_semicolon(statement)]
    if RUN in analyse_statement(statement).writes:
        return [strip_semicolon(statement)]  # hoisted, it would shadow the pipeline's run()
    kept: list[cst.BaseStatement] = []
    for small in statement.body:
        if is_import(small):
            imports.add(small)  # type: ignore[arg-type]
        else:
            bare = small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            kept.append(cst.SimpleStatementLine(body=[bare]))
    if kept and statement.leading_lines:
        kept[0] = kept[0].with_changes(leading_lines=statement.leading_lines)
    return kept


def line_of(statement: Statement, groups: Sequence[StepCells]) -> int | None:
    """The line, within its cell, on which a statement starts (computed only for messages)."""
    position = (statement.order // 100) % 10_000 - 1
    for group in groups:
        for cell in group.cells:
            if cell.index == statement.cell and 0 <= position < len(cell.tree.body):
                return statement_lines(cell.tree)[position]
    return None


def strip_semicolon(line: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    if not isinstance(line.body[-1].semicolon, cst.Semicolon):
        return line  # the same node, so its analysis is not done again
    last = line.body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return line.with_changes(body=[*line.body[:-1], last])


def def_name(node: cst.BaseStatement) -> str:
    assert isinstance(node, cst.FunctionDef | cst.ClassDef)
    return node.name.value


def free_names(statement: Statement) -> frozenset[str]:
    assert isinstance(statement.node, cst.FunctionDef | cst.ClassDef)
    return function_free_names(statement.node)


def uses(statement: Statement, name: str) -> bool:
    return name in statement.flow.reads or name in statement.flow.deferred


def names_read(statement: Statement) -> set[str]:
    return set(statement.flow.reads) | statement.flow.deferred


def immutable(value: object) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(immutable(item) for item in value)
    return value is None or isinstance(value, bool | int | float | complex | str | bytes)


def bound_by(cell: CodeCell) -> set[str]:
    return {n for s in cell.tree.body for n in analyse_statement(s).writes}


def bound_by_reads(cell: CodeCell) -> set[str]:
    flow = sequence(analyse_statement(s) for s in cell.tree.body)
    return set(flow.reads) | flow.deferred
