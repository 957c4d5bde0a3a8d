"""Turn selected cells and their flows into a module plan: imports, definitions, steps, run().

A step takes the names it reads that earlier cells bound, plus the names it binds only on some
paths when later code reads them (so the earlier value survives the other paths); it returns
the names it binds that later steps or test cells read. That is exactly the namespace
semantics of running the cells in order, expressed as plain function calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import libcst as cst

from nb2prod.analysis.facts import DISPLAY, RUN, Piece, is_import_fallback, strip_semicolon
from nb2prod.analysis.flow import Flow, analyse_statement, sequence
from nb2prod.analysis.selection import CodeCell, Selection
from nb2prod.analysis.selection import statement_lines as statement_lines
from nb2prod.errors import Diagnostic, NotebookError
from nb2prod.lift import checks, placement, serving
from nb2prod.lift.parameters import Parameter, parameters_of
from nb2prod.lift.serving import Serving
from nb2prod.lift.statements import (
    Imports,
    Place,
    Statement,
    StepCells,
    bound_by_reads,
    group_cells,
    names_read,
    static_forms,
    without_imports,
)
from nb2prod.naming import BUILTINS, NameAllocator, snake_case
from nb2prod.notebook.cells import PIPELINE_ROLES, Heading, Role

_EMPTY = cst.Module([])


@dataclass(frozen=True)
class Step:
    """One step function: cells run in order, inputs and outputs explicit.

    `marked` says which statements of the body start a cell (they carry `# cell N`);
    `globals` are the module-state names the body binds, which it declares `global`;
    `changed_in_place` are the inputs the body may change in place (`Flow.may_mutate`), which
    a runner that hands values between steps must hand on like outputs.
    """

    name: str
    cells: tuple[int, ...]
    heading: str | None
    params: tuple[str, ...]
    returns: tuple[str, ...]
    body: tuple[Statement, ...]
    marked: tuple[bool, ...] = ()
    result: cst.BaseExpression | None = None
    result_cell: int | None = None
    is_async: bool = False
    globals: tuple[str, ...] = ()
    changed_in_place: tuple[str, ...] = ()  # the inputs it may change in place

    def last_cell(self, name: str) -> int | None:
        """The cell of the step's last statement that binds `name` or may change it in place."""
        cells = [s.cell for s in self.body if name in s.flow.writes or name in may_change(s.flow)]
        return cells[-1] if cells else None

    def identity(self) -> str:
        """Everything the step's code depends on, as text, without parsing any cell: each
        statement of a cell is named by the digest of its cell's code and its place there."""
        result = _EMPTY.code_for_node(self.result) if self.result is not None else None
        body = tuple((s.cell, s.identity, m) for s, m in zip(self.body, self.marked, strict=True))
        fields = (self.name, self.cells, self.heading, self.params, self.returns, self.is_async)
        return repr((*fields, self.globals, self.result_cell, result, body))

    def nodes(self) -> list[cst.BaseStatement]:
        """The body's statements, each cell's first under its `# cell N` comment; one that
        followed a statement the lift took out (a def, a constant, an import) loses the blank
        lines that stood between them."""
        nodes: list[cst.BaseStatement] = []
        previous: Statement | None = None
        for statement, marked in zip(self.body, self.marked, strict=True):
            node = statement.node
            if marked:
                node = with_cell_marker(node, statement.cell)
            elif previous is not None and statement.place.position > previous.place.position + 1:
                node = _without_blank_lines(node)
            nodes.append(node)
            previous = statement
        return nodes


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
    first markdown heading. `module_state` are the names functions rebind with `global`:
    module globals of the pipeline, which run() unbinds when it starts. `serving` is what the
    serve cells give, if the notebook has any.
    """

    imports: tuple[cst.BaseStatement, ...]  # lines, and import fallbacks' `try` statements
    definitions: tuple[tuple[int, Piece], ...]
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    result_cell: int | None
    result_var: str
    run_async_name: str
    result_text: str | None = None
    title: str | None = None
    module_alias: str = "pipeline"
    package_alias: str = "package"
    run_fixture: str = "pipeline_run"  # the generated tests' shared run of the pipeline
    tests: tuple[TestCell, ...] = ()
    test_imports: tuple[cst.BaseStatement, ...] = ()
    needs_display: bool = False
    warnings: tuple[Diagnostic, ...] = ()
    module_state: tuple[str, ...] = ()
    # for each name of module_state: (name, the function rebinding it, cell, line)
    module_state_writers: tuple[tuple[str, str, int, int | None], ...] = ()
    serving: Serving | None = None

    @property
    def is_async(self) -> bool:
        return any(step.is_async for step in self.steps)

    def all_imports(self) -> tuple[cst.BaseStatement, ...]:
        """The hoisted imports, then those kept in steps where the notebook has them (an import
        of a name bound again, or an import fallback binding one): what the package imports."""
        kept = [  # statements the lift made, so that no cell is parsed again for this
            statement.made
            for step in self.steps
            for statement in step.body
            if statement.made is not None and _is_import_statement(statement.made)
        ]
        return (*self.imports, *kept)


def _is_import_statement(node: cst.BaseStatement) -> bool:
    if isinstance(node, cst.Try):
        return is_import_fallback(node)
    return isinstance(node, cst.SimpleStatementLine) and all(
        isinstance(small, cst.Import | cst.ImportFrom) for small in node.body
    )


def lift(selection: Selection) -> Plan:
    """The module plan for a notebook's selected cells; NotebookError when it cannot be lifted."""
    deploy = selection.with_role(*PIPELINE_ROLES)
    if not deploy:
        raise NotebookError(
            "has no deploy cells; tag the production cells `deploy` (or start them with "
            "`#| deploy`)"
        )
    imports = Imports()
    parameters, prologue = parameters_of(selection.with_role(Role.PARAMETERS), imports)
    param_names = {p.name for p in parameters}
    groups = [*prologue, *group_cells(deploy, imports, param_names)]
    bound = (
        param_names
        | imports.bound
        | {n for g in groups for s in g.statements for n in s.flow.writes}
    )
    groups = static_forms(groups, bound)
    notes: list[Diagnostic] = list(selection.warnings)
    state = placement.module_state(groups, param_names)
    state_writers = placement.global_writers(groups, state)
    groups, constants = placement.constants(groups, param_names)
    groups, definitions = placement.module_level(groups, param_names, state)
    groups = placement.place_closures(groups, param_names, state)
    definitions = sorted([*constants, *definitions], key=lambda d: d.place)
    step_bound = {n for g in groups for s in g.statements for n in s.flow.writes}
    placement.refuse_rebound_imports(groups, imports.bound)
    whole_groups = groups  # with the result expression, which may change an artifact in place
    groups, result_cell, result = _take_result(deploy[-1], groups)
    module_names = imports.bound | {n for d in definitions for n in d.flow.writes}
    checked = [*definitions, *(s for g in groups for s in g.statements)]
    groups = _without_bare_reads(groups, module_names | param_names)
    reads_display = checks.reads_anywhere(DISPLAY, groups, definitions, selection)
    needs_display = reads_display and DISPLAY not in module_names | step_bound
    if needs_display:
        module_names = module_names | {DISPLAY}
    notebook_names = checks.all_bound(selection) | module_names
    allocator = NameAllocator(notebook_names | {RUN})
    served, serving_notes = _serving(
        selection, whole_groups, definitions, param_names, module_names, imports, allocator, state
    )
    notes += serving_notes
    tests = selection.with_role(Role.TEST)
    handed_on = served.handed_on if served is not None else frozenset()
    steps = _steps(groups, parameters, tests, result, allocator, state, handed_on)
    test_cells, test_imports = _test_cells(tests, groups, steps, parameters, module_names, state)
    if result is not None:
        result_line = cst.SimpleStatementLine([cst.Expr(result)])
        checked.append(Statement.of(Place(deploy[-1].index), result_line))
    notes += checks.check_names(selection, checked, param_names, module_names, imports.star)
    return Plan(
        imports=imports.statements(),
        definitions=tuple((d.cell, d.piece) for d in definitions),
        parameters=parameters,
        steps=steps,
        result_cell=result_cell if result is not None else None,
        result_text=deploy[-1].result_text if result is not None else None,
        title=selection.title,
        result_var=allocator.claim("result", "value"),
        run_async_name=allocator.claim("_run", "async"),
        module_alias=allocator.claim("pipeline", "module"),
        package_alias=allocator.claim("package", "module"),
        run_fixture=allocator.claim("pipeline_run", "fixture"),
        tests=test_cells,
        test_imports=test_imports.statements(),
        module_state=tuple(sorted(state)),
        module_state_writers=state_writers,
        needs_display=needs_display,
        warnings=tuple(notes),
        serving=served,
    )


def _serving(
    selection: Selection,
    groups: Sequence[StepCells],
    definitions: Sequence[Statement],
    param_names: set[str],
    module_names: set[str],
    imports: Imports,
    allocator: NameAllocator,
    state: frozenset[str],
) -> tuple[Serving | None, list[Diagnostic]]:
    """The serve cells' functions and artifacts; train() and load() keep their names."""
    if not selection.with_role(Role.SERVE):
        return None, []
    serving.reserved_names(module_names, definitions)
    allocator.taken |= {serving.TRAIN, serving.LOAD}
    star = bool(imports.star)
    return serving.analyse(
        selection, groups, definitions, param_names, module_names, star, allocator, state
    )


def _take_result(
    last: CodeCell, groups: list[StepCells]
) -> tuple[list[StepCells], int, cst.BaseExpression | None]:
    """The groups with the last deploy cell's trailing expression taken out of its step, the
    cell, and that expression (None when the cell shows nothing)."""
    statements = groups[-1].statements
    if last.suppressed or not statements or not statements[-1].last_in_cell:
        return groups, last.index, None
    final = statements[-1]
    if final.cell != last.index or not isinstance(final.node, cst.SimpleStatementLine):
        return groups, last.index, None
    *rest, tail = final.node.body
    if not isinstance(tail, cst.Expr):
        return groups, last.index, None
    kept = statements[:-1]
    if rest:
        # the statements before the expression on its line stay, where the line stood
        kept += (Statement.of(final.place, strip_semicolon(final.node.with_changes(body=rest))),)
    return [*groups[:-1], replace(groups[-1], statements=kept)], last.index, tail.value


def _without_bare_reads(groups: Sequence[StepCells], bound: set[str]) -> list[StepCells]:
    """The groups less the statements that only read a name or attribute (`metrics`, `df.shape`
    between cells): Jupyter showed the value; in a step the line does nothing.

    One is kept where a name it reads may be unbound (bound on some paths only, or deleted), as
    the NameError it raises then is the notebook's; the undefined-name check still sees those
    dropped, so a name no cell binds remains an error.
    """
    certain = set(bound) | BUILTINS
    dropped: set[Place] = set()
    for statement in (s for g in groups for s in g.statements):
        flow = statement.flow
        if statement.piece.bare_read and set(flow.reads) <= certain:
            dropped.add(statement.place)
        certain = (certain - flow.unbinds) | flow.must
    return [group.without(dropped) for group in groups]


# --- steps: inputs and outputs ---------------------------------------------------------------


def _steps(
    groups: list[StepCells],
    parameters: Sequence[Parameter],
    tests: Sequence[CodeCell],
    result: cst.BaseExpression | None,
    allocator: NameAllocator,
    state: frozenset[str] = frozenset(),
    handed_on: frozenset[str] = frozenset(),
) -> tuple[Step, ...]:
    """The step functions; `handed_on` are names read after the last step (what train() saves)."""
    tail: list[Statement] = []
    if result is not None:
        tail = [Statement.of(Place(0), cst.SimpleStatementLine(body=[cst.Expr(result)]))]
    bodies = [[*g.statements, *(tail if g is groups[-1] else [])] for g in groups]
    read_later = _read_later(groups, bodies, tests, handed_on)
    flows = [step_flow(body, later) for body, later in zip(bodies, read_later, strict=True)]
    outputs = [
        [n for n in names if n not in state] for names in _outputs(groups, flows, tests, handed_on)
    ]
    names = _step_names(groups, allocator)
    steps: list[Step] = []
    available = {p.name for p in parameters}
    for index, (group, flow) in enumerate(zip(groups, flows, strict=True)):
        through = [n for n in flow.writes if n in outputs[index] and n not in flow.must]
        wanted = [*flow.reads, *through]
        params = tuple(dict.fromkeys(n for n in wanted if n in available and n not in state))
        available |= set(flow.writes)
        is_last = index == len(groups) - 1
        body = tuple(group.statements)
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
                marked=_cell_starts(body),
                result=result if is_last else None,
                result_cell=group.cells[-1].index if is_last and result is not None else None,
                is_async=flow.awaits,
                globals=tuple(n for n in flow.writes if n in state),
                changed_in_place=tuple(n for n in params if n in may_change(flow)),
            )
        )
    return tuple(steps)


def may_change(flow: Flow) -> frozenset[str]:
    """The names a run of statements may change in place: an attribute or item assignment, a
    call known to change its object, or a method call not known to leave it alone (the
    `effects` table's conservative answer).

    The one answer to which of a step's inputs it must hand on when its steps run apart, as
    an orchestrator runs them, each on values loaded from a store.
    """
    return flow.may_mutate


def _read_later(
    groups: Sequence[StepCells],
    bodies: Sequence[Sequence[Statement]],
    tests: Sequence[CodeCell],
    at_end: frozenset[str],
) -> list[set[str]]:
    """For each step, the names that later steps, later test cells or the end read."""
    test_reads = [(t.index, bound_by_reads(t)) for t in tests]
    later: list[set[str]] = [set() for _ in groups]
    after: set[str] = set(at_end)  # read by the steps after the current one, built backwards
    for index in reversed(range(len(groups))):
        last_cell = groups[index].cells[-1].index
        later[index] = after | {n for cell, reads in test_reads if cell > last_cell for n in reads}
        after = after | {n for s in bodies[index] for n in names_read(s)}
    return later


def step_flow(statements: Sequence[Statement], read_later: set[str]) -> Flow:
    """The flow of a step, with each def's call-time reads charged where it is first used.

    A def (or `NAME = lambda ...`) reads its free names when it is called, not when it is
    defined: charging them at its
    first use in the step, or at the step's end when a later step reads the def, keeps names
    that the step binds before that use from becoming inputs.
    """
    pending: dict[str, frozenset[str]] = {}
    flows: list[Flow] = []
    for statement in statements:
        flow = statement.flow
        used = [n for n in pending if flow.reads_name(n)]
        charged = {name for n in used for name in pending.pop(n)}
        if charged:
            flows.append(Flow(reads=tuple(sorted(charged))))
        now = replace(flow, deferred=frozenset()) if flow.deferred else flow
        own = statement.function  # a def's, a class's or a lambda's name
        if own is not None:
            pending[own] = flow.deferred - {own}
            flows.append(now)
        elif flow.deferred:
            flows.append(Flow(reads=tuple(sorted(flow.deferred))).then(now))
        else:
            flows.append(now)
    escaping = [names for name, names in pending.items() if name in read_later]
    if escaping:
        flows.append(Flow(reads=tuple(sorted(set().union(*escaping)))))
    return sequence(flows)


def _outputs(
    groups: Sequence[StepCells],
    flows: Sequence[Flow],
    tests: Sequence[CodeCell],
    at_end: frozenset[str],
) -> list[list[str]]:
    """For each step, the names it binds that a later step or test cell, or the end, reads
    (liveness)."""
    readers_after: list[set[str]] = [set() for _ in groups]
    for test in tests:
        reads = set(sequence(test.facts.flows).names_read)
        for index, group in enumerate(groups):
            if group.cells[0].index < test.index:
                readers_after[index] |= reads
    live: set[str] = set(at_end)
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


def _step_names(groups: Sequence[StepCells], allocator: NameAllocator) -> list[str]:
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


def _heading_text(group: StepCells) -> str | None:
    kind, value = group.key
    if kind == "named":
        return str(value)
    return value.text if isinstance(value, Heading) else None


def _cell_starts(body: Sequence[Statement]) -> tuple[bool, ...]:
    """Which statements carry a `# cell N` comment: the first of each cell in a step."""
    seen: set[int] = set()
    starts = []
    for statement in body:
        starts.append(statement.cell not in seen)
        seen.add(statement.cell)
    return tuple(starts)


def with_cell_marker(node: cst.BaseStatement, cell: int) -> cst.BaseStatement:
    """Prefix a statement with `# cell N`, keeping its own comments after it."""
    marker = cst.EmptyLine(comment=cst.Comment(f"# cell {cell}"))
    return _without_blank_lines(node, first=marker)


def _without_blank_lines(
    node: cst.BaseStatement, first: cst.EmptyLine | None = None
) -> cst.BaseStatement:
    """A statement with only the comments of the lines above it (after `first`, if given)."""
    assert isinstance(node, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    comments = [line for line in node.leading_lines if line.comment is not None]
    return node.with_changes(leading_lines=[*([first] if first else []), *comments])


# --- test cells ----------------------------------------------------------------------------


def _test_cells(
    tests: Sequence[CodeCell],
    groups: Sequence[StepCells],
    steps: Sequence[Step],
    parameters: Sequence[Parameter],
    module_names: set[str],
    module_state: frozenset[str] = frozenset(),
) -> tuple[tuple[TestCell, ...], Imports]:
    """Each test cell as a test: module state (names functions rebind with `global`) is read
    from the module, as other module names are; the rest from the states after the steps."""
    imports = Imports()
    result: list[TestCell] = []
    module_names = module_names | module_state
    for test in tests:
        done = [g for g in groups if g.cells[0].index < test.index]
        state = {p.name for p in parameters} | {
            n for g in done for s in g.statements for n in s.flow.writes
        }
        state -= module_state
        body: list[cst.BaseStatement] = []
        for statement in test.tree.body:
            body.extend(without_imports(statement, imports))
        flow = sequence(analyse_statement(s) for s in body)
        reads = flow.names_read
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
