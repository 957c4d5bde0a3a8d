"""Which names each cell reads, binds and must bind, from its libcst tree.

The analysis is flow-sensitive, because the pipeline's semantics depend on order and paths:
a name read before the cell binds it needs the value from earlier cells, and a name bound only
on some paths (an `if` without `else`, a loop that may not run) keeps its earlier value on the
others. Scopes follow Python's rules: comprehensions, lambdas, functions and classes have their
own, the first iterable of a comprehension and a walrus inside one belong to the enclosing
scope, and the bodies of functions and lambdas are read when called, not when defined.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import libcst as cst


@dataclass(frozen=True)
class Flow:
    """What a run of statements does to the namespace it runs in.

    `reads` may see values from before the run; `writes` may bind or unbind; `must` are bound
    by the run on every path; `unbinds` may be left unbound by a `del` or an `except ... as`.
    `deferred` are read inside functions and lambdas when they are called.
    """

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    must: frozenset[str] = frozenset()
    unbinds: frozenset[str] = frozenset()
    deferred: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    star_imports: tuple[str, ...] = ()
    global_writes: frozenset[str] = frozenset()
    awaits: bool = False

    @cached_property
    def names_read(self) -> tuple[str, ...]:
        """Every name the run reads from before it: now, in order, then (sorted) when the
        functions and lambdas it makes are called. The one answer to "what does it read"."""
        return (*self.reads, *sorted(self.deferred.difference(self.reads)))

    def reads_name(self, name: str) -> bool:
        """Whether the run reads `name`, now or when its functions are called."""
        return name in self.deferred or name in self.reads

    def then(self, later: Flow) -> Flow:
        """The flow of this run followed by `later`."""
        return Flow(
            reads=_ordered(self.reads, (n for n in later.reads if n not in self.must)),
            writes=_ordered(self.writes, later.writes),
            must=(self.must - later.unbinds) | later.must,
            unbinds=(self.unbinds - later.must) | later.unbinds,
            deferred=self.deferred | later.deferred,
            mutates=self.mutates | later.mutates,
            star_imports=_ordered(self.star_imports, later.star_imports),
            global_writes=self.global_writes | later.global_writes,
            awaits=self.awaits or later.awaits,
        )


def sequence(flows: Iterable[Flow]) -> Flow:
    """The flow of several runs one after the other: `then` folded over them, in one pass."""
    reads: dict[str, None] = {}
    writes: dict[str, None] = {}
    star: dict[str, None] = {}
    must: frozenset[str] = frozenset()
    unbinds: frozenset[str] = frozenset()
    deferred: set[str] = set()
    mutates: set[str] = set()
    global_writes: set[str] = set()
    awaits = False
    for flow in flows:
        for name in flow.reads:
            if name not in must:
                reads.setdefault(name)
        writes.update(dict.fromkeys(flow.writes))
        star.update(dict.fromkeys(flow.star_imports))
        must, unbinds = (must - flow.unbinds) | flow.must, (unbinds - flow.must) | flow.unbinds
        deferred |= flow.deferred
        mutates |= flow.mutates
        global_writes |= flow.global_writes
        awaits = awaits or flow.awaits
    return Flow(
        tuple(reads),
        tuple(writes),
        must,
        unbinds,
        frozenset(deferred),
        frozenset(mutates),
        tuple(star),
        frozenset(global_writes),
        awaits,
    )


def analyse_statement(statement: cst.BaseStatement) -> Flow:
    """The flow of one module-level statement (remembered: nodes never change)."""
    return _analysed(statement)


@lru_cache(maxsize=1 << 16)
def _analysed(statement: cst.BaseStatement) -> Flow:
    # libcst nodes hash and compare by identity, so a node is analysed once per build
    walker = _Walker()
    walker.statement(statement)
    return walker.flow()


def analyse_module(module: cst.Module) -> tuple[Flow, ...]:
    """The flow of each top-level statement of a cell, in order."""
    return tuple(analyse_statement(statement) for statement in module.body)


def function_free_names(node: cst.FunctionDef | cst.ClassDef) -> frozenset[str]:
    """Names a def or class reads from the enclosing scope, now or when called."""
    flow = analyse_statement(node)
    return frozenset(flow.reads) | flow.deferred


def _ordered(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


@dataclass
class _State:
    defined: set[str] = field(default_factory=set)
    unbound: set[str] = field(default_factory=set)

    def copy(self) -> _State:
        return _State(set(self.defined), set(self.unbound))


def _merge(states: Sequence[_State]) -> _State:
    """Paths join: bound only if bound on every path; unbound if unbound on any."""
    defined = set.intersection(*(s.defined for s in states))
    unbound = set.union(*(s.unbound for s in states))
    return _State(defined, unbound)


class _Walker:
    """Walks statements of one scope in order, collecting a Flow."""

    def __init__(self, scope: str = "module", defined: Iterable[str] = ()) -> None:
        self.scope = scope
        self.state = _State(set(defined))
        self.reads: dict[str, None] = {}
        self.writes: dict[str, None] = {}
        self.deferred: set[str] = set()
        self.mutates: set[str] = set()
        self.star_imports: dict[str, None] = {}
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()
        self.nested_global_writes: set[str] = set()
        self.awaits = False

    def flow(self) -> Flow:
        return Flow(
            reads=tuple(self.reads),
            writes=tuple(self.writes),
            must=frozenset(self.state.defined),
            unbinds=frozenset(self.state.unbound),
            deferred=frozenset(self.deferred),
            mutates=frozenset(self.mutates),
            star_imports=tuple(self.star_imports),
            global_writes=frozenset(self.declared_global & set(self.writes))
            | self.nested_global_writes,
            awaits=self.awaits,
        )

    # --- names -------------------------------------------------------------------------

    def read(self, name: str) -> None:
        if name not in self.state.defined and name not in _KEYWORD_CONSTANTS:
            self.reads.setdefault(name)

    def bind(self, name: str, *, certain: bool = True) -> None:
        self.writes.setdefault(name)
        if certain:
            self.state.defined.add(name)
            self.state.unbound.discard(name)

    def unbind(self, name: str) -> None:
        self.writes.setdefault(name)
        self.state.defined.discard(name)
        self.state.unbound.add(name)

    # --- statements --------------------------------------------------------------------

    def block(self, body: cst.BaseSuite | Sequence[cst.BaseStatement]) -> None:
        statements = body.body if isinstance(body, cst.BaseSuite) else body
        for statement in statements:
            if isinstance(statement, cst.BaseSmallStatement):
                self.small(statement)
            else:
                self.statement(statement)

    def statement(self, node: cst.BaseStatement) -> None:
        handler: Callable[[_Walker, Any], None] | None = _STATEMENTS.get(type(node))
        if handler is not None:
            handler(self, node)
        elif isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self.small(small)
        else:  # a statement kind newer than this analysis: read everything, bind nothing
            self.generic(node)

    def small(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.Expr):
            self.expr(node.value)
        elif isinstance(node, cst.Assign):
            self.expr(node.value)
            for target in node.targets:
                self.target(target.target)
        elif isinstance(node, cst.AugAssign):
            self.expr(node.value)
            if isinstance(node.target, cst.Name):
                self.read(node.target.value)
            self.target(node.target)
        elif isinstance(node, cst.AnnAssign):
            self.expr(node.annotation.annotation)
            if node.value is not None:
                self.expr(node.value)
                self.target(node.target)
            elif not isinstance(node.target, cst.Name):
                self.target_reads(node.target)
        elif isinstance(node, cst.Del):
            self.delete(node.target)
        elif isinstance(node, cst.Import):
            for alias in node.names:
                self.bind(_import_binding(alias))
        elif isinstance(node, cst.ImportFrom):
            self.import_from(node)
        elif isinstance(node, cst.Global):
            self.declared_global.update(item.name.value for item in node.names)
        elif isinstance(node, cst.Nonlocal):
            self.declared_nonlocal.update(item.name.value for item in node.names)
        elif isinstance(node, cst.Return | cst.Raise | cst.Assert):
            self.generic(node)
        # Pass, Break and Continue change no names.

    def import_from(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            module = cst.Module([]).code_for_node(node.module) if node.module else "."
            self.star_imports.setdefault(module)
            return
        for alias in node.names:
            self.bind(_import_binding(alias))

    def delete(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.read(target.value)
            self.unbind(target.value)
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self.delete(element.value)
        else:
            self.target_reads(target)

    def branches(self, bodies: Sequence[cst.BaseSuite | None], *, fall_through: bool) -> None:
        """Walk alternative bodies from the same state and join them."""
        start = self.state
        ends: list[_State] = [start.copy()] if fall_through else []
        for body in bodies:
            self.state = start.copy()
            if body is not None:
                self.block(body)
            ends.append(self.state)
        self.state = _merge(ends)

    def if_(self, node: cst.If) -> None:
        self.expr(node.test)
        start = self.state.copy()
        self.block(node.body)
        then = self.state
        self.state = start
        if isinstance(node.orelse, cst.If):
            self.if_(node.orelse)
        elif isinstance(node.orelse, cst.Else):
            self.block(node.orelse.body)
        self.state = _merge([then, self.state])

    def loop(self, node: cst.For | cst.While) -> None:
        start = self.state.copy()
        if isinstance(node, cst.For):
            self.expr(node.iter)
            self.awaits |= node.asynchronous is not None and self.scope != "function"
            self.target(node.target)
        else:
            self.expr(node.test)
        self.block(node.body)
        if node.orelse is not None:
            self.block(node.orelse.body)
        # The body may run no time at all: only what was bound before stays certain.
        self.state = _State(start.defined - self.state.unbound, start.unbound | self.state.unbound)

    def try_(self, node: cst.Try | cst.TryStar) -> None:
        start = self.state.copy()
        self.block(node.body)
        if node.orelse is not None:
            self.block(node.orelse.body)
        ends = [self.state]
        for handler in node.handlers:
            self.state = _State(start.defined - ends[0].unbound, start.unbound | ends[0].unbound)
            if handler.type is not None:
                self.expr(handler.type)
            name = handler.name.name if handler.name is not None else None
            if isinstance(name, cst.Name):
                self.bind(name.value)
            self.block(handler.body)
            if isinstance(name, cst.Name):
                self.unbind(name.value)  # Python deletes the name when the handler ends
            ends.append(self.state)
        joined = _merge(ends)
        if node.finalbody is not None:
            self.state = _State(start.defined & joined.defined, joined.unbound)
            self.block(node.finalbody.body)
            joined = _State(joined.defined | self.state.defined, self.state.unbound)
        self.state = joined

    def with_(self, node: cst.With) -> None:
        self.awaits |= node.asynchronous is not None and self.scope != "function"
        for item in node.items:
            self.expr(item.item)
            if item.asname is not None:
                self.target(item.asname.name)
        self.block(node.body)

    def match(self, node: cst.Match) -> None:
        self.expr(node.subject)
        start = self.state
        ends: list[_State] = []
        irrefutable = False
        for case in node.cases:
            self.state = start.copy()
            self.pattern(case.pattern)
            if case.guard is not None:
                self.expr(case.guard)
            self.block(case.body)
            ends.append(self.state)
            irrefutable |= case.guard is None and _irrefutable(case.pattern)
        if not irrefutable:
            ends.append(start.copy())
        self.state = _merge(ends)

    def function(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            self.expr(decorator.decorator)
        params = node.params
        for param in _all_params(params):
            if param.default is not None:
                self.expr(param.default)
            if param.annotation is not None:
                self.expr(param.annotation.annotation)
        if node.returns is not None:
            self.expr(node.returns.annotation)
        inner = _Walker("function", (p.name.value for p in _all_params(params)))
        inner.block(node.body)
        self.deferred |= _free_of_function(inner)
        self.nested_global_writes |= inner.flow().global_writes
        self.bind(node.name.value)

    def class_(self, node: cst.ClassDef) -> None:
        for decorator in node.decorators:
            self.expr(decorator.decorator)
        for arg in (*node.bases, *node.keywords):
            self.expr(arg.value)
        inner = _Walker("class")
        inner.block(node.body)
        for name in inner.reads:
            self.read(name)
        self.deferred |= inner.deferred
        self.nested_global_writes |= inner.nested_global_writes
        self.awaits |= inner.awaits
        self.bind(node.name.value)

    # --- targets and patterns ----------------------------------------------------------

    def target(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            self.bind(node.value)
        elif isinstance(node, cst.Tuple | cst.List):
            for element in node.elements:
                self.target(element.value)
        elif isinstance(node, cst.StarredElement):
            self.target(node.value)
        else:
            self.target_reads(node)

    def target_reads(self, node: cst.BaseExpression) -> None:
        """An attribute or item target: reads its object, which the statement changes."""
        self.expr(node)
        root = _root_name(node)
        if root is not None:
            self.mutates.add(root)

    def pattern(self, node: cst.MatchPattern) -> None:
        if isinstance(node, cst.MatchAs):
            if node.pattern is not None:
                self.pattern(node.pattern)
            if node.name is not None:
                self.bind(node.name.value)
        elif isinstance(node, cst.MatchStar):
            if node.name is not None:
                self.bind(node.name.value)
        elif isinstance(node, cst.MatchValue):
            self.expr(node.value)
        elif isinstance(node, cst.MatchSequence):
            for element in node.patterns:
                if isinstance(element, cst.MatchSequenceElement):
                    self.pattern(element.value)
                elif element.name is not None:  # MatchStar: `*rest`
                    self.bind(element.name.value)
        elif isinstance(node, cst.MatchMapping):
            for item in node.elements:
                self.expr(item.key)
                self.pattern(item.pattern)
            if node.rest is not None:
                self.bind(node.rest.value)
        elif isinstance(node, cst.MatchClass):
            self.expr(node.cls)
            for positional in node.patterns:
                self.pattern(positional.value)
            for keyword in node.kwds:
                self.pattern(keyword.pattern)
        elif isinstance(node, cst.MatchOr):
            for option in node.patterns:
                self.pattern(option.pattern)

    # --- expressions -------------------------------------------------------------------

    def expr(
        self, node: cst.CSTNode, shadow: frozenset[str] = frozenset(), maybe: bool = False
    ) -> None:
        """Record the names an expression reads; `shadow` are bound by an inner scope."""
        if isinstance(node, cst.Name):
            if node.value not in shadow:
                self.read(node.value)
        elif isinstance(node, cst.Attribute | cst.Arg):
            self.expr(node.value, shadow, maybe)
        elif isinstance(node, cst.NamedExpr):
            self.expr(node.value, shadow, maybe)
            if isinstance(node.target, cst.Name):
                self.bind(node.target.value, certain=not maybe)
        elif isinstance(node, cst.BooleanOperation):
            self.expr(node.left, shadow, maybe)
            self.expr(node.right, shadow, True)
        elif isinstance(node, cst.IfExp):
            self.expr(node.test, shadow, maybe)
            self.expr(node.body, shadow, True)
            self.expr(node.orelse, shadow, True)
        elif isinstance(node, cst.Lambda):
            self.lambda_(node, shadow)
        elif isinstance(node, cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp):
            self.comprehension(node, shadow)
        elif isinstance(node, cst.Await):
            self.awaits |= self.scope != "function"
            self.expr(node.expression, shadow, maybe)
        else:
            for child in node.children:
                self.expr(child, shadow, maybe)

    def lambda_(self, node: cst.Lambda, shadow: frozenset[str]) -> None:
        params = list(_all_params(node.params))
        for param in params:
            if param.default is not None:
                self.expr(param.default, shadow)
        inner = _Walker("function", (p.name.value for p in params))
        inner.expr(node.body)
        free = _free_of_function(inner) - shadow
        self.deferred |= free
        for name in free:
            self.read(name)  # a lambda is usually called where it is made

    def comprehension(
        self,
        node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp,
        shadow: frozenset[str],
    ) -> None:
        self.expr(node.for_in.iter, shadow)  # the first iterable runs in the enclosing scope
        clause: cst.CompFor | None = node.for_in
        bound = set(shadow)
        first = True
        while clause is not None:
            if not first:
                self.expr(clause.iter, frozenset(bound), True)
            self.awaits |= clause.asynchronous is not None and self.scope != "function"
            bound.update(_target_names(clause.target))
            for condition in clause.ifs:
                self.expr(condition.test, frozenset(bound), True)
            clause = clause.inner_for_in
            first = False
        inner = frozenset(bound)
        if isinstance(node, cst.DictComp):
            self.expr(node.key, inner, True)
            self.expr(node.value, inner, True)
        else:
            self.expr(node.elt, inner, True)

    def generic(self, node: cst.CSTNode) -> None:
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self.expr(child)
            else:
                self.generic(child)


def _free_of_function(inner: _Walker) -> set[str]:
    """Names a function body reads from outside: not its locals, or declared global."""
    local = set(inner.writes) - inner.declared_global - inner.declared_nonlocal
    return (set(inner.reads) | inner.deferred) - local


def _all_params(params: cst.Parameters) -> Iterable[cst.Param]:
    yield from params.posonly_params
    yield from params.params
    if isinstance(params.star_arg, cst.Param):
        yield params.star_arg
    yield from params.kwonly_params
    if params.star_kwarg is not None:
        yield params.star_kwarg


def _import_binding(alias: cst.ImportAlias) -> str:
    """`import a.b` binds `a`; `import a.b as c` and `from m import a as c` bind `c`."""
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    name: cst.BaseExpression = alias.name
    while isinstance(name, cst.Attribute):
        name = name.value
    assert isinstance(name, cst.Name)
    return name.value


def _target_names(node: cst.BaseExpression) -> set[str]:
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, cst.Tuple | cst.List):
        return set().union(*(_target_names(e.value) for e in node.elements))
    if isinstance(node, cst.StarredElement):
        return _target_names(node.value)
    return set()


def _root_name(node: cst.BaseExpression) -> str | None:
    while isinstance(node, cst.Attribute | cst.Subscript):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


def _irrefutable(pattern: cst.MatchPattern) -> bool:
    if isinstance(pattern, cst.MatchAs):
        return pattern.pattern is None or _irrefutable(pattern.pattern)
    if isinstance(pattern, cst.MatchOr):
        return any(_irrefutable(option.pattern) for option in pattern.patterns)
    return False


_KEYWORD_CONSTANTS = frozenset({"None", "True", "False"})

_STATEMENTS: dict[type[cst.CSTNode], Callable[[_Walker, Any], None]] = {
    cst.If: _Walker.if_,
    cst.For: _Walker.loop,
    cst.While: _Walker.loop,
    cst.Try: _Walker.try_,
    cst.TryStar: _Walker.try_,
    cst.With: _Walker.with_,
    cst.Match: _Walker.match,
    cst.FunctionDef: _Walker.function,
    cst.ClassDef: _Walker.class_,
}
