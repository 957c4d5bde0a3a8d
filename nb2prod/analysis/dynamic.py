"""Names reached at run time: `eval`, `exec`, `globals()`, `locals()` and `vars()`.

These read or bind notebook names that no static analysis sees, and in the pipeline those
names live inside step functions, where `globals()` does not find them. A few forms have a
faithful static one, which `static_form` writes instead:

- `globals()['x']` (and `locals()['x']` or `vars()['x']` at a cell's top level, where they
  are the notebook's namespace too), read: `x`; assigned, augmented or deleted as a
  statement of the cell's top level: `x = ...`, `x += ...`, `del x`;
- `globals().get('x', default)`, where the notebook binds `x` nowhere: `default`;
- `eval('literal expression')`: the expression;
- `__builtins__`, which is the builtins module in a notebook but its dict in an imported
  module: `__import__('builtins')`.

Everything else that reaches the notebook's namespace is a `Reached`: the call, and why no
static form exists. `locals()` and `vars()` inside a function or class are that scope's own
names, and `eval` or `exec` given a namespace of their own reach only that: both are left
as they are.
"""

from __future__ import annotations

import ast
from collections.abc import Set
from dataclasses import dataclass
from typing import TypeVar

import libcst as cst

_Node = TypeVar("_Node", bound=cst.CSTNode)

DYNAMIC = frozenset({"eval", "exec", "globals", "locals", "vars", "__builtins__"})
_NAMESPACES = frozenset({"globals", "locals", "vars"})
_EMPTY = cst.Module([])
_SCOPES = (
    cst.FunctionDef,
    cst.Lambda,
    cst.ClassDef,
    cst.ListComp,
    cst.SetComp,
    cst.DictComp,
    cst.GeneratorExp,
)
# Names IPython puts in a notebook's namespace, which the pipeline's has not.
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit"})


@dataclass(frozen=True)
class Reached:
    """A call that reaches notebook names at run time, with no static form."""

    node: cst.CSTNode
    call: str
    why: str


def static_form(
    statement: cst.BaseStatement, builtins: Set[str], bound: Set[str]
) -> cst.BaseStatement | Reached:
    """`statement` with the faithful forms written statically, or the first call that has
    none. `builtins` are the names of DYNAMIC that are Python's here (the notebook binds
    none of them); `bound` are the names the notebook binds."""
    finder = _Finder(builtins, bound)
    statement.visit(finder)
    if finder.reached is not None:
        return finder.reached
    if not finder.rewrites:
        return statement
    rewritten = statement.visit(_Rewriter(builtins, bound))
    assert isinstance(rewritten, cst.BaseStatement)
    return rewritten


def _namespace_call(node: cst.BaseExpression, builtins: Set[str]) -> str | None:
    """`globals` for `globals()` (likewise `locals()`, `vars()`), when it is Python's."""
    if (
        isinstance(node, cst.Call)
        and not node.args
        and isinstance(node.func, cst.Name)
        and node.func.value in _NAMESPACES & builtins
    ):
        return node.func.value
    return None


def _literal_text(node: cst.BaseExpression) -> str | None:
    """The value of a plain string literal (no f-string), else None."""
    if not isinstance(node, cst.SimpleString | cst.ConcatenatedString):
        return None
    try:
        value = ast.literal_eval(_EMPTY.code_for_node(node))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _key(node: cst.Subscript, builtins: Set[str], *, top: bool) -> str | None:
    """`x` for `globals()['x']`; at a cell's top level also for `locals()` and `vars()`."""
    kind = _namespace_call(node.value, builtins)
    if kind is None or (kind != "globals" and not top) or len(node.slice) != 1:
        return None
    index = node.slice[0].slice
    if not isinstance(index, cst.Index):
        return None
    name = _literal_text(index.value)
    return name if name is not None and name.isidentifier() else None


def _default_of(node: cst.Call, builtins: Set[str], bound: Set[str], *, top: bool) -> bool:
    """Whether `node` is `globals().get('x'[, default])` for an `x` the notebook never binds."""
    func = node.func
    if not (isinstance(func, cst.Attribute) and func.attr.value == "get"):
        return False
    kind = _namespace_call(func.value, builtins)
    if kind is None or (kind != "globals" and not top) or not 1 <= len(node.args) <= 2:
        return False
    name = _literal_text(node.args[0].value)
    return (
        name is not None
        and name.isidentifier()
        and name not in bound
        and name not in _IPYTHON_NAMES
        and not name.startswith("_")
    )


def _eval_literal(node: cst.Call, builtins: Set[str]) -> cst.BaseExpression | None:
    """The expression of `eval('literal')`, when it parses as one."""
    if not (isinstance(node.func, cst.Name) and node.func.value == "eval" and "eval" in builtins):
        return None
    if len(node.args) != 1 or node.args[0].keyword is not None or node.args[0].star:
        return None
    text = _literal_text(node.args[0].value)
    if text is None or "\n" in text.strip():
        return None
    try:
        return cst.parse_expression(text.strip())
    except cst.ParserSyntaxError:
        return None


def _own_namespace(node: cst.Call) -> bool:
    """`eval(code, namespace)` or `exec(code, namespace)`: it reaches only that namespace."""
    return len(node.args) >= 2 or any(
        arg.keyword is not None and arg.keyword.value == "globals" for arg in node.args
    )


class _Finder(cst.CSTVisitor):
    """Finds the first call without a static form, and whether any form needs rewriting."""

    def __init__(self, builtins: Set[str], bound: Set[str]) -> None:
        super().__init__()
        self.builtins = builtins
        self.bound = bound
        self.scopes: list[cst.CSTNode] = []  # enclosing functions, lambdas, classes, comprehensions
        self.reached: Reached | None = None
        self.rewrites = False

    def _refuse(self, node: cst.CSTNode, why: str) -> bool:
        if self.reached is None:
            call = " ".join(_EMPTY.code_for_node(node).split())
            self.reached = Reached(node, call if len(call) <= 60 else call[:57] + "...", why)
        return False

    # --- scopes ------------------------------------------------------------------------

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, _SCOPES):
            self.scopes.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        if isinstance(original_node, _SCOPES):
            self.scopes.pop()

    def _shadowed(self, name: str) -> bool:
        """Whether `name` may be bound by a scope around here (then `name` would not be the
        notebook's): it appears anywhere in the outermost enclosing scope."""
        if not self.scopes:
            return False
        finder = _Mentions(name)
        self.scopes[0].visit(finder)
        return finder.found

    # --- forms -------------------------------------------------------------------------

    def _target(self, target: cst.BaseExpression) -> bool:
        """A statement that assigns or deletes `globals()['x']`: its target, checked."""
        if isinstance(target, cst.Subscript) and _key(target, self.builtins, top=True):
            if self.scopes:
                return self._refuse(target, "binds a notebook name from inside a function")
            self.rewrites = True
            return True
        return False

    def visit_Assign(self, node: cst.Assign) -> bool:
        for target in node.targets:
            if not self._target(target.target):
                target.visit(self)
        node.value.visit(self)
        return False

    def visit_AugAssign(self, node: cst.AugAssign) -> bool:
        if not self._target(node.target):
            node.target.visit(self)
        node.value.visit(self)
        return False

    def visit_Del(self, node: cst.Del) -> bool:
        if not self._target(node.target):
            node.target.visit(self)
        return False

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        name = _key(node, self.builtins, top=not self.scopes)
        if name is None:
            return True
        if self._shadowed(name):
            return self._refuse(node, "reads a name that a function around it may bind")
        self.rewrites = True
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        if _default_of(node, self.builtins, self.bound, top=not self.scopes):
            self.rewrites = True
            for arg in node.args[1:]:
                arg.visit(self)
            return False
        expression = _eval_literal(node, self.builtins)
        if expression is not None:
            self.rewrites = True
            expression.visit(self)  # what it evaluates may hold dynamic forms in turn
            return False
        if not isinstance(func, cst.Name) or func.value not in self.builtins:
            return True
        for arg in node.args:
            arg.visit(self)
        name = func.value
        if name in ("eval", "exec"):
            if not _own_namespace(node):
                return self._refuse(node, "runs code that reads notebook names nb2prod cannot see")
        elif name == "globals" or (not node.args and not self.scopes):
            return self._refuse(node, "hands on the notebook's namespace")
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # the attribute's own name is not a read
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # a keyword's name is not a read
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "__builtins__" and node.value in self.builtins:
            self.rewrites = True
        elif node.value in self.builtins:
            self._refuse(node, "is passed on as a value")


class _Mentions(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.found = False

    def visit_Name(self, node: cst.Name) -> None:
        self.found = self.found or node.value == self.name


class _Rewriter(cst.CSTTransformer):
    """Writes the faithful forms `_Finder` accepted."""

    def __init__(self, builtins: Set[str], bound: Set[str]) -> None:
        super().__init__()
        self.builtins = builtins
        self.bound = bound
        self.depth = 0  # how many functions, lambdas, classes and comprehensions enclose

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.depth += isinstance(node, _SCOPES)
        return super().on_visit(node)

    def on_leave(
        self, original_node: _Node, updated_node: _Node
    ) -> _Node | cst.RemovalSentinel | cst.FlattenSentinel[_Node]:
        result = super().on_leave(original_node, updated_node)
        self.depth -= isinstance(original_node, _SCOPES)
        return result

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if original.value == "__builtins__" and "__builtins__" in self.builtins:
            return cst.parse_expression("__import__('builtins')").with_changes(
                lpar=updated.lpar, rpar=updated.rpar
            )
        return updated

    def leave_Subscript(
        self, original: cst.Subscript, updated: cst.Subscript
    ) -> cst.BaseExpression:
        name = _key(original, self.builtins, top=self.depth == 0)
        if name is None:
            return updated
        return cst.Name(name, lpar=updated.lpar, rpar=updated.rpar)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        expression = _eval_literal(original, self.builtins)
        if expression is not None:
            rewritten = expression.visit(self)
            assert isinstance(rewritten, cst.BaseExpression)
            return _bracketed(rewritten)
        if _default_of(original, self.builtins, self.bound, top=self.depth == 0):
            return _bracketed(updated.args[1].value) if len(updated.args) == 2 else cst.Name("None")
        return updated


# Expressions that stand where a call stood without brackets.
_ATOMS = (
    cst.Name,
    cst.Attribute,
    cst.Call,
    cst.Subscript,
    cst.BaseNumber,
    cst.BaseString,
    cst.List,
    cst.Tuple,
    cst.Dict,
    cst.Set,
    cst.ListComp,
    cst.SetComp,
    cst.DictComp,
)


def _bracketed(node: cst.BaseExpression) -> cst.BaseExpression:
    """`node` in brackets, unless it is an atom (a tuple without brackets gets them)."""
    if isinstance(node, _ATOMS) and not (isinstance(node, cst.Tuple) and not node.lpar):
        return node
    return node.with_changes(
        lpar=[cst.LeftParen(), *node.lpar], rpar=[*node.rpar, cst.RightParen()]
    )
