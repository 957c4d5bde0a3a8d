"""Where definitions go: module-level constants and functions, or closures inside steps.

In the notebook a function reads the globals when it is called. Functions that need only
imports, constants and other module-level functions stay at module level unchanged; the
others stay in (or move to) the step whose names they read, where a closure sees them. Where
no faithful translation exists, the build refuses, naming the function, the name and the cells.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import dataclass, replace

import libcst as cst

from nb2prod.analysis.facts import RUN, function_declaring_global, line_within
from nb2prod.errors import NotebookError
from nb2prod.lift.statements import Statement, StepCells, free_names, line_of, without


def refuse_rebound_imports(groups: Sequence[StepCells], imported: set[str]) -> None:
    for group in groups:
        for statement in group.statements:
            clash = [name for name in statement.flow.writes if name in imported]
            if clash:
                raise NotebookError(
                    f"`{clash[0]}` is bound here and by an import; rename one of them so that "
                    "the module and the notebook agree",
                    cell=statement.cell,
                    line=line_of(statement, groups),
                )


def module_level(
    groups: Sequence[StepCells], parameters: set[str], state: Set[str] = frozenset()
) -> tuple[list[StepCells], list[Statement]]:
    """The steps less the defs and classes that can live at module level, unchanged, and those.

    A def or class that reads names the steps or parameters bind, directly or through another
    such def, or whose name is bound more than once (a function defined again, or a name a
    step rebinds), stays in its step as a nested definition, where it sees those names and
    each use sees the binding the notebook's would; the rest move to module level. So does
    one that reads or rebinds `state` (see `module_state`): at module level its decorators
    and defaults would run at import, out of the notebook's order.
    """
    statements = [s for g in groups for s in g.statements]
    candidates = [s for s in statements if s.is_definition]
    step_bound = parameters | {n for s in statements if not s.is_definition for n in s.flow.writes}
    step_bound.add(RUN)
    bindings = Counter(n for s in statements for n in s.flow.writes)
    step_bound |= {name for name, count in bindings.items() if count > 1}
    kept = {d.place for d in candidates}
    local = step_bound | state
    changed = True
    while changed:  # a def that needs a demoted def is demoted too
        changed = False
        for definition in candidates:
            if definition.place in kept and (
                free_names(definition) & local
                or definition.name in step_bound
                or definition.flow.global_writes & state
            ):
                kept.discard(definition.place)
                local.add(definition.name)
                changed = True
    moved = [d for d in candidates if d.place in kept]
    return without(groups, moved), moved


def constants(
    groups: Sequence[StepCells], parameters: set[str]
) -> tuple[list[StepCells], list[Statement]]:
    """The steps less the assignments that are module-level constants, and those.

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
    wanted = {n for s in statements if s.is_definition for n in free_names(s)}
    mutated = {n for s in statements for n in s.flow.mutates}
    constants = []
    for statement in statements:
        writes = statement.flow.writes
        if len(writes) != 1 or not (writes[0] in wanted or writes[0].isupper()):
            continue
        constant = statement.piece.constant
        if (
            constant is not None
            and bindings.get(constant) == 1
            and constant not in parameters
            and constant not in mutated
        ):
            constants.append(statement)
    return without(groups, constants), constants


def place_closures(
    groups: Sequence[StepCells], parameters: set[str], state: Set[str] = frozenset()
) -> list[StepCells]:
    """The steps with each def kept in a step placed so that every use sees what the
    notebook's def would.

    A def inside a step is a closure: it sees that step's names when it is called, as the
    notebook's def sees the globals. When a name it reads is bound again by a later step
    before a use, the def is defined again at the start of that step (moved there when nothing
    used it before), so that later uses see the new value, as Python's late binding does.
    Where the old function could outlive the rebinding (a class, whose instances keep it; a
    function kept as a value, decorated, or making functions or generators), no copy can stand
    in for it, and the build refuses. Names in `state` are module globals, the same for every
    function wherever it is defined: rebinding them makes no def stale.
    """
    placed = list(groups)
    # Each action defines a def in a later step than it stood, so there are at most this many.
    definitions = sum(1 for g in groups for s in g.statements if s.function is not None)
    for _ in range(1 + definitions * (len(groups) + 1)):
        action = _next_action(placed, state)
        if action is None:
            return placed
        placed = action.apply(placed)
    raise AssertionError("placing the closures did not settle")


@dataclass(frozen=True)
class _Timeline:
    """The steps' statements in notebook order, as (step, statement), with where each name
    is used (read, or reached through a closure that reads it) and bound."""

    order: tuple[tuple[int, Statement], ...]
    uses: dict[str, list[int]]
    writes: dict[str, list[int]]
    binds: dict[str, list[int]]
    reach: dict[str, frozenset[str]]  # a closure's name -> the closures it may call
    keeps: dict[str, frozenset[str]]  # a closure's name -> the closures its body may keep

    def step(self, at: int) -> int:
        return self.order[at][0]

    def kept_by(self, at: int) -> set[str]:
        """The closures whose objects the statement at `at` may keep beyond itself."""
        statement = self.order[at][1]
        names = set(self.reach)
        called = {n for e in set(statement.flow.names_read) & names for n in {e, *self.reach[e]}}
        kept = set(statement.flow.passes & names) | {n for e in called for n in self.keeps[e]}
        return kept | {n for e in kept for n in self.reach[e]}


def _timeline(groups: Sequence[StepCells]) -> _Timeline:
    order = tuple((g, s) for g, group in enumerate(groups) for s in group.statements)
    deps: dict[str, set[str]] = {}
    passed: dict[str, set[str]] = {}
    for _, statement in order:
        if statement.function is not None:
            deps.setdefault(statement.function, set()).update(statement.reads_when_called())
            passed.setdefault(statement.function, set()).update(statement.flow.passes)
    reach = _transitive({name: found & set(deps) for name, found in deps.items()})
    keeps = {name: frozenset(found & set(deps)) for name, found in passed.items()}
    uses: dict[str, list[int]] = {}
    writes: dict[str, list[int]] = {}
    binds: dict[str, list[int]] = {}
    closures = set(reach)
    for at, (_, statement) in enumerate(order):
        read = set(statement.flow.names_read)
        for name in read & closures:
            read |= reach[name]
        for name in read:
            uses.setdefault(name, []).append(at)
        for name in statement.flow.writes:
            writes.setdefault(name, []).append(at)
        for name in statement.flow.must:
            binds.setdefault(name, []).append(at)
    return _Timeline(order, uses, writes, binds, reach, keeps)


def _transitive(graph: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """For each node, every node reachable from it."""
    closed: dict[str, frozenset[str]] = {}
    for start in graph:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        closed[start] = frozenset(seen)
    return closed


@dataclass(frozen=True)
class _Action:
    """A def to define at the start of step `target`: moved there, or a copy (`again`)."""

    definition: Statement
    source: int
    target: int
    again: bool
    rebound: tuple[str, ...] = ()

    def apply(self, groups: Sequence[StepCells]) -> list[StepCells]:
        placed = list(groups)
        definition = self.definition
        if self.again:
            definition = _again(definition, self.target, self.rebound)
        else:
            placed[self.source] = placed[self.source].without({definition.place})
        group = placed[self.target]
        first = group.cells[0].index
        statements = group.statements
        at = 0  # after the defs already placed here from earlier cells, in notebook order
        while at < len(statements) and statements[at].cell < first:
            at += 1
        placed[self.target] = replace(
            group, statements=(*statements[:at], definition, *statements[at:])
        )
        return placed


def _again(definition: Statement, target: int, rebound: Sequence[str]) -> Statement:
    """A copy of a def for step `target`, under a comment that says why it is there."""
    node = definition.node
    names = ", ".join(f"`{name}`" for name in rebound)
    note = cst.EmptyLine(
        comment=cst.Comment(f"# defined again here: it reads {names}, bound again in this step")
    )
    assert isinstance(node, cst.FunctionDef | cst.SimpleStatementLine)
    # a copy of a copy says why once: the note it carries goes
    kept = [line for line in node.leading_lines if not _is_again_note(line)]
    copy = node.with_changes(leading_lines=[*kept, note])
    place = definition.place._replace(copy=target + 1)
    return Statement(place, definition.piece, made=copy)


def _is_again_note(line: cst.EmptyLine) -> bool:
    return line.comment is not None and line.comment.value.startswith("# defined again here:")


def _next_action(groups: Sequence[StepCells], state: Set[str]) -> _Action | None:
    timeline = _timeline(groups)
    for at, (_, statement) in enumerate(timeline.order):
        if statement.function is not None:
            action = _action_for(timeline, at, groups, state)
            if action is not None:
                return action
    return None


def _action_for(
    timeline: _Timeline, at: int, groups: Sequence[StepCells], state: Set[str]
) -> _Action | None:
    """What the def at `at` needs: None when every use sees what the notebook's would.

    The uses of a def run until its name is bound again. A use is stale when a later step
    has bound again, before it, a name the def reads: the def must then be defined at the
    start of the last such step before the first stale use.
    """
    step, definition = timeline.order[at]
    own = definition.function
    assert own is not None
    end = next((k for k in timeline.binds.get(own, []) if k > at), len(timeline.order))
    used = [
        k
        for k in timeline.uses.get(own, [])
        if at < k < end or (k == end and _reads_now(timeline, k, own))
    ]
    if not used:
        return None
    free = definition.reads_when_called() - {own} - state
    events = sorted(
        k
        for name in free
        for k in timeline.writes.get(name, [])
        if at < k < used[-1] and timeline.step(k) > step
    )
    stale = next((u for u in used if events and u > events[0]), None)
    if stale is None:
        return None
    rebinding = max(e for e in events if e < stale)
    target = timeline.step(rebinding)
    early = [u for u in used if timeline.step(u) < target]
    if not early:
        return _Action(definition, step, target, again=False)
    why = _why_not_again(definition, timeline, early)
    if why is not None:
        _refuse_again(definition, groups, timeline, rebinding, free, early[0], why)
    in_target = [timeline.order[e][1] for e in events if timeline.step(e) == target]
    rebound = tuple(sorted({n for s in in_target for n in s.flow.writes} & free))
    return _Action(definition, step, target, again=True, rebound=rebound)


def _reads_now(timeline: _Timeline, at: int, name: str) -> bool:
    statement = timeline.order[at][1]
    return statement.function != name and name in statement.flow.reads


def _why_not_again(definition: Statement, timeline: _Timeline, early: Sequence[int]) -> str | None:
    """Why a copy of the def, defined later, could not stand in for it; None if it can."""
    own = definition.function
    node = definition.node
    if isinstance(node, cst.ClassDef):
        return f"`{own}` is a class, and its instances keep it"
    kept = next((timeline.order[u][1].cell for u in early if own in timeline.kept_by(u)), None)
    if kept is not None:
        return f"cell {kept} keeps `{own}` as a value"
    if isinstance(node, cst.FunctionDef):
        if node.decorators:
            return f"`{own}` is decorated"
        if node.asynchronous is not None:
            return f"`{own}` is a coroutine function"
        body: cst.CSTNode = node.body
    else:
        assert isinstance(node, cst.SimpleStatementLine)
        small = node.body[0]
        assert isinstance(small, cst.Assign) and isinstance(small.value, cst.Lambda)
        body = small.value.body
    lasting = _lasting(body)
    if lasting is not None:
        return f"`{own}` {lasting}"
    return None


def _lasting(body: cst.CSTNode) -> str | None:
    """What in a function's body could outlive a call and keep what it read."""
    finder = _Lasting()
    body.visit(finder)
    return finder.found


class _Lasting(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: str | None = None

    def _nested(self) -> bool:
        self.found = self.found or "makes functions that keep what it reads"
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._nested()

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return self._nested()

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return self._nested()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> bool:
        self.found = self.found or "makes a generator that reads its names later"
        return False

    def visit_Yield(self, node: cst.Yield) -> bool:
        self.found = self.found or "is a generator"
        return False


def _refuse_again(
    definition: Statement,
    groups: Sequence[StepCells],
    timeline: _Timeline,
    rebinding: int,
    free: frozenset[str],
    use: int,
    why: str,
) -> None:
    own = definition.function
    binder = timeline.order[rebinding][1]
    name = next(n for n in sorted(free) if n in binder.flow.writes)
    user = timeline.order[use][1].cell
    raise NotebookError(
        f"`{own}` reads `{name}`, which cell {binder.cell} binds again after cell {user} uses "
        f"`{own}`; {why}, so a copy defined for the new value cannot stand in for it: give "
        f"the later value another name, or pass `{name}` to `{own}` as an argument",
        cell=definition.cell,
        line=line_of(definition, groups),
    )


def module_state(groups: Sequence[StepCells], parameters: set[str]) -> frozenset[str]:
    """The names functions rebind with `global` (a decorator's wrapper counting calls).

    They stay module globals in the pipeline, as they are in the notebook: each step that binds
    one declares it `global`, no step takes or returns one, and run() unbinds them when it
    starts, as a fresh kernel would have them. A parameter cannot be one: run() takes it as an
    argument, which a `global` could not rebind.
    """
    state = frozenset(n for g in groups for s in g.statements for n in s.flow.global_writes)
    for name, function, cell, line in global_writers(groups, state & parameters):
        raise NotebookError(
            f"`{function}` rebinds `{name}` with `global`, and `{name}` is a parameter: run() "
            f"takes it as an argument, which a `global` cannot rebind; give the parameter and "
            "the global different names",
            cell=cell,
            line=line,
        )
    return state


def global_writers(
    groups: Sequence[StepCells], names: Set[str]
) -> tuple[tuple[str, str, int, int | None], ...]:
    """For each of `names` (in order), the first function that rebinds it with `global`, as
    (name, function, cell, line of the `global` statement)."""
    statements = [s for g in groups for s in g.statements]
    found: list[tuple[str, str, int, int | None]] = []
    for name in sorted(names):
        writer = next(s for s in statements if name in s.flow.global_writes)
        declared = function_declaring_global(writer.node, name)
        function = declared[0] if declared is not None else "a function"
        line = line_of(writer, groups)
        if declared is not None and line is not None:
            line += line_within(writer.node, declared[1])
        found.append((name, function, writer.cell, line))
    return tuple(found)
