"""Turn selected cells and their flows into a module plan: imports, definitions, steps, run().

A step takes the names it reads that earlier cells bound, plus the names it binds only on some
paths when later code reads them (so the earlier value survives the other paths); it returns
the names it binds that later steps or test cells read. That is exactly the namespace
semantics of running the cells in order, expressed as plain function calls.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import libcst as cst

from nb2prod.cells import CodeCell, Heading, Role, Selection
from nb2prod.dataflow import Flow, analyse_statement, function_free_names, sequence
from nb2prod.errors import Diagnostic, NotebookError, warning
from nb2prod.naming import BUILTINS, NameAllocator, snake_case

# Names IPython provides in a notebook that the module must provide itself.
DISPLAY = "display"
# The pipeline's entry point: a notebook's own `run` stays inside its step.
RUN = "run"
_IPYTHON_DISPLAY_MODULES = ("IPython.display", "IPython.core.display")
_EMPTY = cst.Module([])


@dataclass(frozen=True)
class Parameter:
    """A keyword argument of run(), from the parameters cell."""

    name: str
    default: str
    cell: int
    value: object = None
    literal: bool = False

    @property
    def inline(self) -> bool:
        """Whether the default can stand in the signature: an immutable literal."""
        return self.literal and _immutable(self.value)


@dataclass(frozen=True)
class Step:
    """One step function: cells run in order, inputs and outputs explicit."""

    name: str
    cells: tuple[int, ...]
    heading: str | None
    params: tuple[str, ...]
    returns: tuple[str, ...]
    body: tuple[cst.BaseStatement, ...]
    result: cst.BaseExpression | None = None
    result_cell: int | None = None
    is_async: bool = False


@dataclass(frozen=True)
class TestCell:
    """A test cell as a test: the pipeline names it reads, after `steps_done` steps."""

    cell: int
    state_names: tuple[str, ...]
    module_names: tuple[str, ...]
    steps_done: int
    body: tuple[cst.BaseStatement, ...]


@dataclass(frozen=True)
class Plan:
    """Everything the emitters need, in notebook order.

    `result_text` is the recorded text/plain output of the result cell; `title` the notebook's
    first markdown heading.
    """

    imports: tuple[cst.SimpleStatementLine, ...]
    definitions: tuple[tuple[int, cst.BaseStatement], ...]
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    result_cell: int | None
    result_var: str
    run_async_name: str
    result_text: str | None = None
    title: str | None = None
    module_alias: str = "pipeline"
    package_alias: str = "package"
    states_name: str = "pipeline_states"
    tests: tuple[TestCell, ...] = ()
    test_imports: tuple[cst.SimpleStatementLine, ...] = ()
    needs_display: bool = False
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def is_async(self) -> bool:
        return any(step.is_async for step in self.steps)


@dataclass(eq=False)
class _Stmt:
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
class _Group:
    """Consecutive deploy cells that form one step."""

    key: tuple[str, object]
    cells: list[CodeCell] = field(default_factory=list)
    statements: list[_Stmt] = field(default_factory=list)


def lift(selection: Selection) -> Plan:
    """The module plan for a notebook's selected cells; NotebookError when it cannot be lifted."""
    deploy = selection.with_role(Role.DEPLOY)
    if not deploy:
        raise NotebookError(
            "has no deploy cells; tag the production cells `deploy` (or start them with "
            "`#| deploy`)"
        )
    imports = _Imports()
    parameters = _parameters(selection.with_role(Role.PARAMETERS), imports)
    groups = _group_cells(deploy, imports)
    notes: list[Diagnostic] = list(selection.warnings)
    param_names = {p.name for p in parameters}
    constants = _constants(groups, param_names)
    definitions = _module_level(groups, param_names)
    _place_closures(groups, param_names)
    _refuse_global_writes(groups, definitions, constants, param_names)
    definitions = sorted([*constants, *definitions], key=lambda d: d.order)
    step_bound = {n for g in groups for s in g.statements for n in s.flow.writes}
    _refuse_rebound_imports(groups, imports.bound)
    result_cell, result = _take_result(deploy[-1], groups)
    module_names = imports.bound | {n for d in definitions for n in d.flow.writes}
    reads_display = _reads_anywhere(DISPLAY, groups, definitions, selection)
    needs_display = reads_display and DISPLAY not in module_names | step_bound
    if needs_display:
        module_names = module_names | {DISPLAY}
    notebook_names = _all_bound(selection) | module_names
    allocator = NameAllocator(notebook_names | {RUN})
    tests = selection.with_role(Role.TEST)
    steps = _steps(groups, parameters, tests, result, allocator)
    test_cells, test_imports = _test_cells(tests, groups, steps, parameters, module_names)
    checked = [*definitions, *(s for g in groups for s in g.statements)]
    if result is not None:
        line = cst.SimpleStatementLine([cst.Expr(result)])
        checked.append(_Stmt(deploy[-1].index, line, analyse_statement(line)))
    notes += _check_names(selection, checked, parameters, module_names, imports.star)
    return Plan(
        imports=imports.statements(),
        definitions=tuple((d.cell, d.node) for d in definitions),
        parameters=parameters,
        steps=steps,
        result_cell=result_cell if result is not None else None,
        result_text=deploy[-1].result_text if result is not None else None,
        title=selection.title,
        result_var=allocator.claim("result", "value"),
        run_async_name=allocator.claim("_run", "async"),
        module_alias=allocator.claim("pipeline", "module"),
        package_alias=allocator.claim("package", "module"),
        states_name=allocator.claim("pipeline_states", "fixture"),
        tests=test_cells,
        test_imports=test_imports.statements(),
        needs_display=needs_display,
        warnings=tuple(notes),
    )


# --- imports -------------------------------------------------------------------------------


class _Imports:
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


def _is_import(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Import | cst.ImportFrom)


# --- parameters ----------------------------------------------------------------------------


def _parameters(cells: Sequence[CodeCell], imports: _Imports) -> tuple[Parameter, ...]:
    """The parameters cells' assignments, in order; their imports are hoisted."""
    found: dict[str, Parameter] = {}
    for cell in cells:
        for line, statement in zip(statement_lines(cell.tree), cell.tree.body, strict=True):
            for small in _smalls(statement, cell, line):
                if _is_import(small):
                    imports.add(small)  # type: ignore[arg-type]
                    continue
                name, value = _parameter_assignment(small, cell.index, line)
                found.pop(name, None)
                found[name] = _parameter(name, value, cell.index)
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


def _parameter(name: str, value: cst.BaseExpression, cell: int) -> Parameter:
    code = _EMPTY.code_for_node(value)
    try:
        literal = ast.literal_eval(code.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return Parameter(name, code.strip(), cell)
    return Parameter(name, code.strip(), cell, value=literal, literal=True)


def _immutable(value: object) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(_immutable(item) for item in value)
    return value is None or isinstance(value, bool | int | float | complex | str | bytes)


# --- cells into steps and definitions --------------------------------------------------------


def _group_cells(deploy: Sequence[CodeCell], imports: _Imports) -> list[_Group]:
    """Hoist imports and group the remaining statements into steps, in notebook order."""
    groups: list[_Group] = []
    for cell in deploy:
        key = _step_key(cell)
        if not groups or groups[-1].key != key:
            groups.append(_Group(key))
        group = groups[-1]
        group.cells.append(cell)
        for position, statement in enumerate(cell.tree.body, start=1):
            nodes = _without_imports(statement, imports)
            for offset, node in enumerate(nodes):
                last = position == len(cell.tree.body) and node is nodes[-1]
                order = (cell.index * 10_000 + position) * 100 + offset
                flow = analyse_statement(node)
                group.statements.append(_Stmt(cell.index, node, flow, last, order))
    return groups


def _step_key(cell: CodeCell) -> tuple[str, object]:
    if cell.step is not None:
        return ("named", cell.step)
    return ("heading", cell.heading)


def _without_imports(statement: cst.BaseStatement, imports: _Imports) -> list[cst.BaseStatement]:
    """Hoist the imports of a statement line; what else it holds stays, without semicolons."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return [statement]
    if not any(_is_import(small) for small in statement.body):
        return [_strip_semicolon(statement)]
    if RUN in analyse_statement(statement).writes:
        return [_strip_semicolon(statement)]  # hoisted, it would shadow the pipeline's run()
    kept: list[cst.BaseStatement] = []
    for small in statement.body:
        if _is_import(small):
            imports.add(small)  # type: ignore[arg-type]
        else:
            bare = small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            kept.append(cst.SimpleStatementLine(body=[bare]))
    if kept and statement.leading_lines:
        kept[0] = kept[0].with_changes(leading_lines=statement.leading_lines)
    return kept


def _strip_semicolon(line: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    last = line.body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return line.with_changes(body=[*line.body[:-1], last])


def _refuse_rebound_imports(groups: Sequence[_Group], imported: set[str]) -> None:
    for group in groups:
        for statement in group.statements:
            clash = [name for name in statement.flow.writes if name in imported]
            if clash:
                raise NotebookError(
                    f"rebinds `{clash[0]}`, which an import binds; rename one of them so that "
                    "the module and the notebook agree",
                    cell=statement.cell,
                )


def _module_level(groups: list[_Group], parameters: set[str]) -> list[_Stmt]:
    """Take out of the steps the defs and classes that can live at module level, unchanged.

    A def or class that reads names the steps or parameters bind, directly or through another
    such def, or whose name a step rebinds, stays in its step as a nested definition, where it
    sees those names; the rest move to module level.
    """
    statements = [s for g in groups for s in g.statements]
    candidates = [s for s in statements if s.is_definition]
    step_bound = parameters | {n for s in statements if not s.is_definition for n in s.flow.writes}
    step_bound.add(RUN)
    module_level = list(candidates)
    changed = True
    while changed:
        changed = False
        local = step_bound | {_def_name(d.node) for d in candidates if d not in module_level}
        for definition in list(module_level):
            free = function_free_names(definition.node)  # type: ignore[arg-type]
            if free & local or _def_name(definition.node) in step_bound:
                module_level.remove(definition)
                changed = True
    for group in groups:
        group.statements = [s for s in group.statements if s not in module_level]
    return module_level


def _constants(groups: list[_Group], parameters: set[str]) -> list[_Stmt]:
    """Take out of the steps the assignments that are module-level constants.

    A name bound exactly once in the deploy cells, by `NAME = <immutable literal>` at a cell's
    top level, that is no parameter and that a def or class reads (or that is written in
    capitals, as constants are) is the same value for every call of run(): it moves to module
    level, where functions kept at module level can read it.
    """
    statements = [s for g in groups for s in g.statements]
    bindings: dict[str, int] = {}
    for statement in statements:
        for name in (*statement.flow.writes, *statement.flow.global_writes):
            bindings[name] = bindings.get(name, 0) + 1
    wanted = {n for s in statements if s.is_definition for n in _free_names(s)}
    constants = []
    for statement in statements:
        constant = _constant_name(statement)
        if (
            constant is not None
            and bindings.get(constant) == 1
            and constant not in parameters
            and (constant in wanted or constant.isupper())
            and not any(constant in s.flow.mutates for s in statements)
        ):
            constants.append(statement)
    for group in groups:
        group.statements = [s for s in group.statements if s not in constants]
    return constants


def _constant_name(statement: _Stmt) -> str | None:
    """The name of `NAME = <immutable literal>`, else None."""
    node = statement.node
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    small = node.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    if not isinstance(target, cst.Name):
        return None
    try:
        literal = ast.literal_eval(_EMPTY.code_for_node(value).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return target.value if _immutable(literal) else None


def _free_names(statement: _Stmt) -> frozenset[str]:
    assert isinstance(statement.node, cst.FunctionDef | cst.ClassDef)
    return function_free_names(statement.node)


def _place_closures(groups: list[_Group], parameters: set[str]) -> None:
    """Move each def kept in a step to the step that binds the last of the names it reads.

    A def inside a step is a closure: it sees that step's names when it is called. When a name
    it reads is bound only by a later step, the def moves to the start of that step, so that it
    sees the name as the notebook's def would. It cannot move past a step that uses it, and a
    name rebound after the def can be seen does not fit a closure: both are refused.
    """
    for _ in range(sum(len(g.statements) for g in groups)):
        move = _next_move(groups, parameters)
        if move is None:
            return
        definition, source, target = move
        groups[source].statements.remove(definition)
        groups[target].statements.insert(0, definition)


def _next_move(groups: list[_Group], parameters: set[str]) -> tuple[_Stmt, int, int] | None:
    """The next def that must move to a later step, as (def, from step, to step).

    A def kept in step S closes over S's names. If a name it reads is bound again in a later
    step T before the def's last use, the def moves to the start of T, where it sees that
    binding and, through T's inputs, every earlier value; that works only if nothing uses the
    def before T.
    """
    for index, group in enumerate(groups):
        for position, definition in enumerate(group.statements):
            if not definition.is_definition:
                continue
            own = _def_name(definition.node)
            uses = _use_steps(groups, index, position, own)
            if not uses:
                continue
            free = _free_names(definition) - {own}
            rebinds = {
                g: name
                for g in range(index + 1, max(uses) + 1)
                for name in sorted(free)
                if any(name in s.flow.writes for s in groups[g].statements)
            }
            if not rebinds:
                continue
            target = max(rebinds)
            if min(uses) < target:
                _refuse_move(definition, rebinds[target], groups, target, min(uses))
            return definition, index, target
    return None


def _use_steps(groups: list[_Group], index: int, position: int, name: str) -> list[int]:
    """The steps that read `name` after the statement at (index, position) binds it."""
    steps = []
    for g in range(index, len(groups)):
        statements = groups[g].statements[position + 1 :] if g == index else groups[g].statements
        if any(_uses(s, name) for s in statements):
            steps.append(g)
    return steps


def _uses(statement: _Stmt, name: str) -> bool:
    return name in statement.flow.reads or name in statement.flow.deferred


def _refuse_move(definition: _Stmt, name: str, groups: list[_Group], target: int, use: int) -> None:
    own = _def_name(definition.node)
    binder = next(s.cell for s in groups[target].statements if name in s.flow.writes)
    user = next(s.cell for s in groups[use].statements if _uses(s, own) and s is not definition)
    raise NotebookError(
        f"`{own}` (cell {definition.cell}) reads `{name}`, which cell {binder} binds again "
        f"after cell {user} uses `{own}`; a lifted function cannot see both values: give the "
        f"later value another name, or pass `{name}` to `{own}` as an argument",
        cell=definition.cell,
    )


def _refuse_global_writes(
    groups: list[_Group], definitions: list[_Stmt], constants: list[_Stmt], parameters: set[str]
) -> None:
    """A function that rebinds notebook state with `global` has no faithful translation."""
    statements = [s for g in groups for s in g.statements]
    state = parameters | {n for s in [*statements, *constants] for n in s.flow.writes}
    for statement in [*statements, *definitions]:
        others = [s for s in statements if s is not statement]
        readers = {n: s.cell for s in reversed(others) for n in (*s.flow.reads, *s.flow.deferred)}
        for name in sorted(statement.flow.global_writes & (state | set(readers))):
            where = f"cell {readers[name]} reads it" if name in readers else "the cells bind it"
            function = f"`{_def_name(statement.node)}`" if statement.is_definition else "a function"
            raise NotebookError(
                f"{function} (cell {statement.cell}) rebinds the notebook's `{name}` with "
                f"`global`, and {where}; return the new value instead "
                f"(`{name} = f({name})`) so the pipeline can pass it on",
                cell=statement.cell,
            )


def _def_name(node: cst.BaseStatement) -> str:
    assert isinstance(node, cst.FunctionDef | cst.ClassDef)
    return node.name.value


# --- the result ----------------------------------------------------------------------------


def _take_result(last: CodeCell, groups: list[_Group]) -> tuple[int, cst.BaseExpression | None]:
    """Remove the last deploy cell's trailing expression from its step and return it."""
    statements = groups[-1].statements
    if last.suppressed or not statements or not statements[-1].last_in_cell:
        return last.index, None
    final = statements[-1]
    if final.cell != last.index or not isinstance(final.node, cst.SimpleStatementLine):
        return last.index, None
    *rest, tail = final.node.body
    if not isinstance(tail, cst.Expr):
        return last.index, None
    statements.pop()
    if rest:
        kept = _strip_semicolon(final.node.with_changes(body=rest))
        statements.append(_Stmt(final.cell, kept, analyse_statement(kept)))
    return last.index, tail.value


# --- steps: inputs and outputs ---------------------------------------------------------------


def _steps(
    groups: list[_Group],
    parameters: Sequence[Parameter],
    tests: Sequence[CodeCell],
    result: cst.BaseExpression | None,
    allocator: NameAllocator,
) -> tuple[Step, ...]:
    tail: list[_Stmt] = []
    if result is not None:
        result_line = cst.SimpleStatementLine(body=[cst.Expr(result)])
        tail = [_Stmt(0, result_line, analyse_statement(result_line))]
    bodies = [[*g.statements, *(tail if g is groups[-1] else [])] for g in groups]
    read_later = _read_later(groups, bodies, tests)
    flows = [step_flow(body, later) for body, later in zip(bodies, read_later, strict=True)]
    outputs = _outputs(groups, flows, tests)
    names = _step_names(groups, allocator)
    steps: list[Step] = []
    available = {p.name for p in parameters}
    for index, (group, flow) in enumerate(zip(groups, flows, strict=True)):
        through = [n for n in flow.writes if n in outputs[index] and n not in flow.must]
        wanted = [*flow.reads, *through]
        params = tuple(dict.fromkeys(n for n in wanted if n in available))
        available |= set(flow.writes)
        is_last = index == len(groups) - 1
        body = tuple(_with_marker(group, s) for s in group.statements)
        if not body and not (is_last and result is not None) and not outputs[index]:
            continue
        steps.append(
            Step(
                name=names[index],
                cells=tuple(c.index for c in group.cells),
                heading=_heading_text(group),
                params=params,
                returns=tuple(outputs[index]),
                body=body,
                result=result if is_last else None,
                result_cell=group.cells[-1].index if is_last and result is not None else None,
                is_async=flow.awaits,
            )
        )
    return tuple(steps)


def _read_later(
    groups: Sequence[_Group], bodies: Sequence[Sequence[_Stmt]], tests: Sequence[CodeCell]
) -> list[set[str]]:
    """For each step, the names that later steps or later test cells read."""
    test_reads = [(t.index, _bound_by_reads(t)) for t in tests]
    later: list[set[str]] = []
    for index, group in enumerate(groups):
        names = {n for body in bodies[index + 1 :] for s in body for n in _names_read(s)}
        last_cell = group.cells[-1].index
        names |= {n for cell, reads in test_reads if cell > last_cell for n in reads}
        later.append(names)
    return later


def _names_read(statement: _Stmt) -> set[str]:
    return set(statement.flow.reads) | statement.flow.deferred


def step_flow(statements: Sequence[_Stmt], read_later: set[str]) -> Flow:
    """The flow of a step, with each def's call-time reads charged where it is first used.

    A def reads its free names when it is called, not when it is defined: charging them at its
    first use in the step, or at the step's end when a later step reads the def, keeps names
    that the step binds before that use from becoming inputs.
    """
    pending: dict[str, frozenset[str]] = {}
    flows: list[Flow] = []
    for statement in statements:
        flow = statement.flow
        used = [n for n in pending if n in flow.reads or n in flow.deferred]
        charged = {name for n in used for name in pending.pop(n)}
        if charged:
            flows.append(Flow(reads=tuple(sorted(charged))))
        if statement.is_definition:
            own = _def_name(statement.node)
            pending[own] = flow.deferred - {own}
            flows.append(replace(flow, deferred=frozenset()))
        else:
            flows.append(
                Flow(reads=tuple(sorted(flow.deferred))).then(replace(flow, deferred=frozenset()))
            )
    escaping = [names for name, names in pending.items() if name in read_later]
    if escaping:
        flows.append(Flow(reads=tuple(sorted(set().union(*escaping)))))
    return sequence(flows)


def _outputs(
    groups: Sequence[_Group], flows: Sequence[Flow], tests: Sequence[CodeCell]
) -> list[list[str]]:
    """For each step, the names it binds that a later step or test cell reads (liveness)."""
    readers_after: list[set[str]] = [set() for _ in groups]
    for test in tests:
        flow = sequence(analyse_statement(s) for s in test.tree.body)
        reads = set(flow.reads) | flow.deferred
        for index, group in enumerate(groups):
            if group.cells[0].index < test.index:
                readers_after[index] |= reads
    live: set[str] = set()
    outputs: list[list[str]] = [[] for _ in groups]
    for index in reversed(range(len(groups))):
        live |= readers_after[index] - (
            readers_after[index + 1] if index + 1 < len(groups) else set()
        )
        flow = flows[index]
        outputs[index] = [n for n in flow.writes if n in live]
        through = {n for n in live if n in flow.writes and n not in flow.must}
        live = (live - flow.must) | set(flow.reads) | through
    return outputs


def _step_names(groups: Sequence[_Group], allocator: NameAllocator) -> list[str]:
    names: list[str] = []
    for ordinal, group in enumerate(groups, start=1):
        kind, value = group.key
        wanted = None
        if kind == "named":
            wanted = snake_case(str(value))
        elif isinstance(value, Heading):
            wanted = snake_case(value.text)
        names.append(allocator.claim(wanted or f"step_{ordinal}"))
    return names


def _heading_text(group: _Group) -> str | None:
    kind, value = group.key
    if kind == "named":
        return str(value)
    return value.text if isinstance(value, Heading) else None


def _with_marker(group: _Group, statement: _Stmt) -> cst.BaseStatement:
    """The first statement of each cell in a step carries a `# cell N` comment."""
    first_of_cell = next(s for s in group.statements if s.cell == statement.cell)
    if first_of_cell is not statement:
        return statement.node
    return with_cell_marker(statement.node, statement.cell)


def with_cell_marker(node: cst.BaseStatement, cell: int) -> cst.BaseStatement:
    """Prefix a statement with `# cell N`, keeping its own comments after it."""
    assert isinstance(node, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    comments = [line for line in node.leading_lines if line.comment is not None]
    marker = cst.EmptyLine(comment=cst.Comment(f"# cell {cell}"))
    return node.with_changes(leading_lines=[marker, *comments])


# --- test cells ----------------------------------------------------------------------------


def _test_cells(
    tests: Sequence[CodeCell],
    groups: Sequence[_Group],
    steps: Sequence[Step],
    parameters: Sequence[Parameter],
    module_names: set[str],
) -> tuple[tuple[TestCell, ...], _Imports]:
    imports = _Imports()
    result: list[TestCell] = []
    for test in tests:
        done = [g for g in groups if g.cells[0].index < test.index]
        state = {p.name for p in parameters} | {
            n for g in done for s in g.statements for n in s.flow.writes
        }
        body: list[cst.BaseStatement] = []
        for statement in test.tree.body:
            body.extend(_without_imports(statement, imports))
        flow = sequence(analyse_statement(s) for s in body)
        reads = [*flow.reads, *sorted(flow.deferred - set(flow.reads))]
        own = imports.bound
        result.append(
            TestCell(
                cell=test.index,
                state_names=tuple(n for n in reads if n in state and n not in own),
                module_names=tuple(n for n in reads if n in module_names and n not in state | own),
                steps_done=sum(1 for step in steps if step.cells[0] < test.index),
                body=tuple(body),
            )
        )
    return tuple(result), imports


# --- checks --------------------------------------------------------------------------------


def _check_names(
    selection: Selection,
    statements: Sequence[_Stmt],
    parameters: Sequence[Parameter],
    module_names: set[str],
    star: Sequence[str],
) -> list[Diagnostic]:
    """Undefined names are errors (or star-import guesses); hidden state is a warning."""
    bound = module_names | {p.name for p in parameters}
    bound |= {n for s in statements for n in s.flow.writes}
    readers: dict[str, int] = {}
    for statement in statements:
        for name in (*statement.flow.reads, *sorted(statement.flow.deferred)):
            readers.setdefault(name, statement.cell)
    unknown = {n: c for n, c in readers.items() if n not in bound and n not in BUILTINS | _DUNDERS}
    notes: list[Diagnostic] = []
    if unknown and star:
        for name, cell in unknown.items():
            notes.append(warning(f"`{name}` is taken to come from `from {star[0]} import *`", cell))
    elif unknown:
        first = min(unknown, key=lambda name: unknown[name])
        raise NotebookError(
            _unknown_message(unknown, selection),
            cell=unknown[first],
            line=_line_reading(first, unknown[first], selection),
        )
    notes += _hidden_state(selection, readers, bound - module_names)
    return notes


_DUNDERS = frozenset({"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__"})


def _unknown_message(unknown: dict[str, int], selection: Selection) -> str:
    """Each undefined name with the cell that reads it and an unmarked cell that binds it."""
    others = selection.with_role(Role.UNMARKED, Role.TEST)
    parts = []
    for name, cell in sorted(unknown.items(), key=lambda item: item[1]):
        binder = next((c.index for c in others if name in _bound_by(c)), None)
        fix = (
            f"cell {binder} binds it: mark cell {binder} deploy, or make it a parameter"
            if binder is not None
            else "no cell binds it"
        )
        parts.append(f"`{name}` (read in cell {cell}; {fix})")
    return "deploy cells read names that no deploy or parameters cell binds: " + "; ".join(parts)


def _line_reading(name: str, cell_index: int, selection: Selection) -> int | None:
    """The line of the first statement in a cell that reads `name`."""
    cell = next(c for c in selection.cells if c.index == cell_index)
    for line, statement in zip(statement_lines(cell.tree), cell.tree.body, strict=True):
        flow = analyse_statement(statement)
        if name in flow.reads or name in flow.deferred:
            return line
    return None


def _bound_by(cell: CodeCell) -> set[str]:
    return {n for s in cell.tree.body for n in analyse_statement(s).writes}


def _hidden_state(
    selection: Selection, readers: dict[str, int], pipeline_names: set[str]
) -> list[Diagnostic]:
    """Unmarked cells that rebind or change, before a deploy cell reads it, a pipeline name."""
    notes = []
    last_read: dict[str, int] = {}
    for cell in selection.with_role(Role.DEPLOY):
        for statement in cell.tree.body:
            flow = analyse_statement(statement)
            for name in (*flow.reads, *flow.deferred):
                last_read[name] = cell.index
    for cell in selection.with_role(Role.UNMARKED):
        flow = sequence(analyse_statement(s) for s in cell.tree.body)
        touched = dict.fromkeys([*flow.writes, *sorted(flow.mutates)])
        for name in touched:
            if name in pipeline_names and last_read.get(name, 0) > cell.index:
                verb = "rebinds" if name in flow.writes else "changes"
                notes.append(
                    warning(
                        f"hidden state: this unmarked cell {verb} `{name}`, which deploy cell "
                        f"{last_read[name]} reads; the notebook's run and the pipeline's differ",
                        cell.index,
                    )
                )
    return notes


def _all_bound(selection: Selection) -> set[str]:
    return {n for cell in selection.cells for n in _bound_by(cell)}


def _reads_anywhere(
    name: str, groups: Iterable[_Group], definitions: Iterable[_Stmt], selection: Selection
) -> bool:
    statements = [*definitions, *(s for g in groups for s in g.statements)]
    if any(name in s.flow.reads or name in s.flow.deferred for s in statements):
        return True
    return any(name in _bound_by_reads(c) for c in selection.with_role(Role.TEST))


def _bound_by_reads(cell: CodeCell) -> set[str]:
    flow = sequence(analyse_statement(s) for s in cell.tree.body)
    return set(flow.reads) | flow.deferred


def statement_lines(module: cst.Module) -> list[int]:
    """The line, within the cell, on which each top-level statement starts."""
    line = 1 + len(module.header)
    starts = []
    for statement in module.body:
        line += len(statement.leading_lines)
        starts.append(line)
        bare = statement.with_changes(leading_lines=())
        line += _EMPTY.code_for_node(bare).count("\n")
    return starts
