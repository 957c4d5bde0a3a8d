"""Which names each cell reads, binds and must bind, from its libcst tree.

The analysis is flow-sensitive, because the pipeline's semantics depend on order and paths:
a name read before the cell binds it needs the value from earlier cells, and a name bound only
on some paths (an `if` without `else`, a loop that may not run) keeps its earlier value on the
others. Scopes follow Python's rules: comprehensions, lambdas, functions and classes have their
own, the first iterable of a comprehension and a walrus inside one belong to the enclosing
scope, and the bodies of functions and lambdas are read when called, not when defined. A name
bound in an enclosing function (a parameter, a local, a `nonlocal` target) is that function's,
at any depth; a class body encloses nothing (its methods, lambdas and comprehensions skip it).

The analysis fails closed: a statement or expression it has no rule for (syntax newer than
it) raises `UnsupportedSyntax` rather than being taken to bind nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import libcst as cst

from nb2prod.analysis.effects import call_effect


@dataclass(frozen=True)
class Flow:
    """What a run of statements does to the namespace it runs in.

    `reads` may see values from before the run; `writes` may bind or unbind; `must` are bound
    by the run on every path; `unbinds` may be left unbound by a `del` or an `except ... as`.
    `deferred` are read inside functions and lambdas when they are called.

    In-place changes, for what the run does now (not inside the functions it defines):
    `mutates` are the names known to be changed (attribute or item assignment, `del x[...]`,
    a call the effects table knows to mutate: `rows.append(x)`, `model.fit(X)`,
    `df.dropna(inplace=True)`); `may_mutate` is the conservative superset (also every method
    not known to be pure, and augmented assignment), what a step runner must assume.
    `passes` are names whose value the run may keep beyond itself: read other than as the
    function of a direct call `name(...)`, now or inside the functions it defines.
    """

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    must: frozenset[str] = frozenset()
    unbinds: frozenset[str] = frozenset()
    deferred: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    may_mutate: frozenset[str] = frozenset()
    passes: frozenset[str] = frozenset()
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
            may_mutate=self.may_mutate | later.may_mutate,
            passes=self.passes | (later.passes - self.must),
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
    may_mutate: set[str] = set()
    passes: set[str] = set()
    global_writes: set[str] = set()
    awaits = False
    for flow in flows:
        for name in flow.reads:
            if name not in must:
                reads.setdefault(name)
        passes |= flow.passes - must
        writes.update(dict.fromkeys(flow.writes))
        star.update(dict.fromkeys(flow.star_imports))
        must, unbinds = (must - flow.unbinds) | flow.must, (unbinds - flow.must) | flow.unbinds
        deferred |= flow.deferred
        mutates |= flow.mutates
        may_mutate |= flow.may_mutate
        global_writes |= flow.global_writes
        awaits = awaits or flow.awaits
    return Flow(
        tuple(reads),
        tuple(writes),
        must,
        unbinds,
        frozenset(deferred),
        frozenset(mutates),
        frozenset(may_mutate),
        frozenset(passes),
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


class UnsupportedSyntax(Exception):
    """A node the flow analysis has no rule for (syntax newer than it): refused, not guessed at.

    `node` is where it is, so that the message can name the line; `what` says what it is.
    """

    def __init__(self, node: cst.CSTNode, what: str) -> None:
        super().__init__(what)
        self.node = node
        self.what = what


class _Walker:
    """Walks statements of one scope in order, collecting a Flow.

    `scope` is "module", "function" or "class"; `params` are a function's parameters, bound
    before its body runs.
    """

    def __init__(self, scope: str = "module", params: Iterable[str] = ()) -> None:
        self.scope = scope
        self.params = frozenset(params)
        self.state = _State(set(self.params))
        self.reads: dict[str, None] = {}
        self.writes: dict[str, None] = {}
        self.deferred: set[str] = set()
        self.deferred_globals: set[str] = set()  # read in nested bodies that declare them global
        self.mutates: set[str] = set()
        self.may_mutate: set[str] = set()
        # name -> names whose objects it may share parts of (`for o in orders`, `row = rows[0]`)
        self.aliases: dict[str, set[str]] = {}
        # a comprehension's target -> the names whose parts it runs over (`o` in `... for o in
        # orders`), while the comprehension is walked: a change to `o` may change `orders`
        self.iterated: dict[str, set[str]] = {}
        self.passes: set[str] = set()
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
            deferred=frozenset(self.deferred | self.deferred_globals),
            mutates=frozenset(self.mutates),
            may_mutate=frozenset(self.may_mutate | self.mutates),
            passes=frozenset(self.passes),
            star_imports=tuple(self.star_imports),
            global_writes=self.global_writes(),
            awaits=self.awaits,
        )

    def global_writes(self) -> frozenset[str]:
        return frozenset(self.declared_global & set(self.writes)) | self.nested_global_writes

    # --- names -------------------------------------------------------------------------

    def read(self, name: str, *, kept: bool = True) -> None:
        """A read of `name` now; `kept` unless it only calls it (`name(...)`)."""
        if name not in self.state.defined and name not in _KEYWORD_CONSTANTS:
            self.reads.setdefault(name)
            if kept:
                self.passes.add(name)

    def read_inside(self, name: str) -> None:
        """A read now from a scope nested in this one, which a class body does not enclose."""
        if self.scope != "class":
            self.read(name)
        elif name not in _KEYWORD_CONSTANTS:
            self.reads.setdefault(name)
            self.passes.add(name)

    def bind(self, name: str, *, certain: bool = True) -> None:
        self.writes.setdefault(name)
        if certain:
            self.state.defined.add(name)
            self.state.unbound.discard(name)

    def unbind(self, name: str) -> None:
        self.writes.setdefault(name)
        self.state.defined.discard(name)
        self.state.unbound.add(name)

    def changes(self, names: Iterable[str], *, known: bool) -> None:
        """Names whose objects the run changes in place (`known`) or may change. A change
        through an alias (`o["x"] = 1` in `for o in orders`) may change what it aliases."""
        names = set(names)
        (self.mutates if known else self.may_mutate).update(names)
        for name in names:
            self.may_mutate.update(self.aliases.get(name, ()))

    def alias(self, target: cst.BaseExpression, sources: set[str]) -> None:
        """The names `target` binds may share parts of the objects of `sources`, and of what
        those alias in turn."""
        shared = sources.union(*(self.aliases.get(name, ()) for name in sources))
        for name in _target_names(target):
            self.aliases[name] = shared - {name}

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
        else:  # a statement kind newer than this analysis
            raise UnsupportedSyntax(node, _described(node))

    def small(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.Expr):
            self.expr(node.value)
        elif isinstance(node, cst.Assign):
            if isinstance(node.value, cst.Lambda):  # `f = lambda ...` is made, as a def is
                self.lambda_(node.value, frozenset(), called=False)
            else:
                self.expr(node.value)
            root = _root_name(node.value)
            for target in node.targets:
                self.target(target.target)
                if root is not None:  # `row = rows[0]`: row is part of rows
                    self.alias(target.target, {root})
        elif isinstance(node, cst.AugAssign):
            self.expr(node.value)
            if isinstance(node.target, cst.Name):
                self.read(node.target.value)
                self.changes([node.target.value], known=False)  # `rows += [x]` extends rows
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
        elif not isinstance(node, cst.Pass | cst.Break | cst.Continue):  # these change no names
            raise UnsupportedSyntax(node, _described(node))

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
            self.alias(node.target, _object_names(node.iter))  # `for o in orders.values()`
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
        if node.type_parameters is not None:
            raise UnsupportedSyntax(node.type_parameters, _described(node.type_parameters))
        for decorator in node.decorators:
            self.callee(decorator.decorator)
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
        self.enclose(inner)
        self.nested_global_writes |= inner.global_writes()
        self.bind(node.name.value)

    def enclose(self, inner: _Walker, shadow: frozenset[str] = frozenset()) -> frozenset[str]:
        """Take in what a nested function's body reads from outside it when it is called:
        names it does not bind, less those it declares global, which skip every enclosing
        function, and less `shadow` (a comprehension's names around a lambda). Returns the
        names read from this scope or beyond."""
        local = (set(inner.writes) | inner.params) - inner.declared_global - inner.declared_nonlocal
        used = set(inner.reads) | inner.deferred
        globals_ = (used & inner.declared_global) | inner.deferred_globals
        free = frozenset(used - local - inner.declared_global - shadow)
        self.deferred |= free
        self.deferred_globals |= globals_
        self.passes |= inner.passes & (free | globals_)
        return free

    def class_(self, node: cst.ClassDef) -> None:
        if node.type_parameters is not None:
            raise UnsupportedSyntax(node.type_parameters, _described(node.type_parameters))
        for decorator in node.decorators:
            self.callee(decorator.decorator)
        for arg in (*node.bases, *node.keywords):
            self.expr(arg.value)
        inner = _Walker("class")
        inner.block(node.body)
        for name in inner.reads:
            self.read(name)
        self.deferred |= inner.deferred  # methods skip the class body: its names are not theirs
        self.deferred_globals |= inner.deferred_globals
        self.passes |= inner.passes & (set(inner.reads) | inner.deferred)
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
            self.changes([root], known=True)

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
        elif not isinstance(node, cst.MatchSingleton):  # `None`, `True`, `False`: no names
            raise UnsupportedSyntax(node, _described(node))

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
        elif isinstance(node, cst.Call):
            self.call(node, shadow, maybe)
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
        elif type(node) in _PLAIN_NODES or isinstance(node, _TOKENS):
            for child in node.children:
                self.expr(child, shadow, maybe)
        else:  # an expression kind newer than this analysis
            raise UnsupportedSyntax(node, _described(node))

    def call(self, node: cst.Call, shadow: frozenset[str], maybe: bool) -> None:
        """A call reads its function without keeping it when it is a plain name, reads its
        arguments, and may change objects in place (the effects table)."""
        func = node.func
        if isinstance(func, cst.Name):
            if func.value not in shadow:
                self.read(func.value, kept=False)
        else:
            self.expr(func, shadow, maybe)
        for arg in node.args:
            self.expr(arg.value, shadow, maybe)
        effect = call_effect(node)
        self.changes(effect.mutates - shadow, known=True)
        self.changes(effect.may_mutate - shadow, known=False)
        looped = (effect.mutates | effect.may_mutate) & self.iterated.keys()
        self.changes(set().union(*(self.iterated[name] for name in looped)) - shadow, known=False)

    def callee(self, node: cst.BaseExpression) -> None:
        """A decorator: called with what it decorates."""
        if isinstance(node, cst.Name):
            self.read(node.value, kept=False)
        else:
            self.expr(node)

    def lambda_(self, node: cst.Lambda, shadow: frozenset[str], *, called: bool = True) -> None:
        """A lambda reads its defaults now and its body when called; unless it is only bound
        to a name (`called` False), it is taken to be called where it is made (`key=lambda`)."""
        params = list(_all_params(node.params))
        for param in params:
            if param.default is not None:
                self.expr(param.default, shadow)
        inner = _Walker("function", (p.name.value for p in params))
        inner.expr(node.body)
        free = self.enclose(inner, shadow)
        if called:
            for name in free:
                self.read_inside(name)

    def comprehension(
        self,
        node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp,
        shadow: frozenset[str],
    ) -> None:
        self.expr(node.for_in.iter, shadow)  # the first iterable runs in the enclosing scope
        if self.scope == "class":
            # The rest runs in a scope of its own that does not see the class body's names.
            inner = _Walker("function", shadow)
            inner.comprehension_rest(node, frozenset())
            self.take_in(inner)
        else:
            self.comprehension_rest(node, shadow)

    def comprehension_rest(
        self,
        node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp,
        shadow: frozenset[str],
    ) -> None:
        """A comprehension past its first iterable: its targets shadow the enclosing names."""
        clause: cst.CompFor | None = node.for_in
        bound = set(shadow)
        first = True
        outer = dict(self.iterated)
        while clause is not None:
            if not first:
                self.expr(clause.iter, frozenset(bound), True)
            self.awaits |= clause.asynchronous is not None and self.scope != "function"
            sources = self._iterated_over(clause.iter)
            for name in _target_names(clause.target):
                self.iterated[name] = sources
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
        self.iterated = outer

    def _iterated_over(self, iterable: cst.BaseExpression) -> set[str]:
        """The names whose parts a comprehension's loop over `iterable` may bind: its object
        names, what they alias, and for an enclosing comprehension's target what that runs over
        (`c` in `for row in table for c in row` is part of `table`)."""
        found: set[str] = set()
        for name in _object_names(iterable):
            if name in self.iterated:
                found |= self.iterated[name]
            else:
                found |= {name, *self.aliases.get(name, ())}
        return found

    def take_in(self, inner: _Walker) -> None:
        """What a scope run now inside a class body reads and changes, past the class's names."""
        for name in inner.reads:
            self.read_inside(name)
        self.deferred |= inner.deferred
        self.deferred_globals |= inner.deferred_globals
        self.passes |= inner.passes
        self.mutates |= inner.mutates
        self.may_mutate |= inner.may_mutate
        self.awaits |= inner.awaits

    def generic(self, node: cst.CSTNode) -> None:
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self.expr(child)
            else:
                self.generic(child)


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


def _object_names(node: cst.CSTNode) -> set[str]:
    """The names an expression reads as objects (not attribute names), whose parts its value
    may be: `orders` and `enumerate` in `enumerate(orders)`."""
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, cst.Attribute):
        return _object_names(node.value)
    return set().union(*(_object_names(child) for child in node.children))


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

# Nodes inside expressions whose names are all read where they stand: walked child by child.
# Anything else that is not handled above, or a token, is syntax this analysis does not know.
_PLAIN_NODES: frozenset[type[cst.CSTNode]] = frozenset(
    {
        *(cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget),
        *(cst.Subscript, cst.SubscriptElement, cst.Index, cst.Slice),
        *(cst.Tuple, cst.List, cst.Set, cst.Dict, cst.Element, cst.StarredElement),
        *(cst.DictElement, cst.StarredDictElement),
        *(cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis),
        *(cst.SimpleString, cst.ConcatenatedString, cst.FormattedString),
        *(cst.FormattedStringExpression, cst.FormattedStringText),
        *(cst.Yield, cst.From),
    }
)

# Operators, brackets, punctuation and whitespace: they read and bind nothing.
_TOKENS = (
    cst.BaseBinaryOp,
    cst.BaseBooleanOp,
    cst.BaseCompOp,
    cst.BaseUnaryOp,
    cst.BaseAugOp,
    cst.BaseParenthesizableWhitespace,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.AssignEqual,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.Newline,
    cst.TrailingWhitespace,
    cst.EmptyLine,
    cst.Comment,
)

# What unknown syntax is called in messages, for the kinds known to be newer than this analysis.
_DESCRIPTIONS = {
    "TypeAlias": "a `type` statement (Python 3.12)",
    "TypeParameters": "type parameters (Python 3.12, PEP 695)",
    "TemplatedString": "a template string (Python 3.14)",
    "LazyImport": "a lazy import",
    "LazyImportFrom": "a lazy import",
}


def _described(node: cst.CSTNode) -> str:
    kind = type(node).__name__
    return _DESCRIPTIONS.get(kind, f"`{kind}` syntax")
