"""What the lift needs to know of one cell, gathered from its libcst tree.

A cell's facts are its code cleaned of IPython syntax, the flow of each top-level statement,
the statements it splits into once its imports are hoisted, and the definitions and constants
among them. Everything here is a pure function of the cell's source and plain data, so the
orchestration can keep the facts between builds (parsing is most of a build's cost) and a
cell whose facts were kept is parsed again only when its code has to be emitted anew.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import libcst as cst

from nb2prod.analysis.flow import Flow, analyse_statement
from nb2prod.errors import Diagnostic, NotebookError
from nb2prod.literals import literal_value
from nb2prod.notebook.magics import clean_cell

# Names IPython provides in a notebook that the module must provide itself.
DISPLAY = "display"
# The pipeline's entry point: a notebook's own `run` stays inside its step.
RUN = "run"
_IPYTHON_DISPLAY_MODULES = ("IPython.display", "IPython.core.display")
_EMPTY = cst.Module([])


@dataclass(frozen=True)
class ImportLine:
    """A hoisted import as code: one line, or an import fallback's whole `try` statement; with
    the names it binds.

    `node` is the statement's tree when it was built in this run; one read back from stored
    facts is parsed again only if its tree is asked for.
    """

    code: str
    writes: tuple[str, ...]
    star: tuple[str, ...] = ()
    node: cst.BaseStatement | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return self.code.strip()

    def statement(self) -> cst.BaseStatement:
        if self.node is not None:
            return self.node
        return cst.parse_statement(self.code)


@dataclass(frozen=True)
class Piece:
    """One statement of a step: a top-level statement of a cell once its imports are hoisted.

    `position` is the top-level statement it comes from (counted from 1) and `offset` which
    part of it. `code` and `marked` (the code without blank leading lines, to go under a
    `# cell N` comment) are kept only for definitions and constants, which the module emits
    on their own. `bare_read` says the statement only reads a name or an attribute
    (`metrics`, `df.shape`): in Jupyter that shows a value, in a function it does nothing.
    """

    position: int
    offset: int
    last: bool
    flow: Flow
    name: str | None = None  # a def's or class's name
    constant: str | None = None  # NAME in `NAME = <immutable literal>`
    code: str | None = None
    marked: str | None = None
    bare_read: bool = False

    @property
    def is_definition(self) -> bool:
        return self.name is not None


@dataclass(frozen=True)
class CellFacts:
    """A cell's facts: each top-level statement's flow, its pieces and its hoisted imports."""

    flows: tuple[Flow, ...]
    pieces: tuple[Piece, ...]
    imports: tuple[ImportLine, ...]
    suppressed: bool  # a trailing `;` hides the cell's result


@dataclass(frozen=True)
class Parsed:
    """A cell's tree, and the nodes of its pieces by (position, offset)."""

    tree: cst.Module
    nodes: dict[tuple[int, int], cst.BaseStatement]


# --- gathering ---------------------------------------------------------------------------


def parse(code: str) -> Parsed:
    """A cell's tree and pieces; NotebookError when it does not parse."""
    tree = parse_cell(code)
    parts, _ = split(tree)
    return _parsed(tree, parts)


def gather(code: str) -> tuple[CellFacts, Parsed]:
    """The facts of a cell's cleaned code, and its tree; NotebookError when it does not parse."""
    tree = parse_cell(code)
    flows = tuple(analyse_statement(statement) for statement in tree.body)
    parts, imports = split(tree)
    pieces = tuple(piece_of(node, position, offset, last) for position, offset, last, node in parts)
    facts = CellFacts(flows, pieces, tuple(imports), _ends_with_semicolon(tree))
    return facts, _parsed(tree, parts)


def _parsed(tree: cst.Module, parts: Sequence[tuple[int, int, bool, cst.BaseStatement]]) -> Parsed:
    return Parsed(tree, {(position, offset): node for position, offset, _, node in parts})


def split(
    tree: cst.Module,
) -> tuple[list[tuple[int, int, bool, cst.BaseStatement]], list[ImportLine]]:
    """A cell's statements with their imports hoisted, as (position, offset, last, node), and
    the hoisted imports in order. The same code always splits the same way."""
    parts: list[tuple[int, int, bool, cst.BaseStatement]] = []
    imports: list[ImportLine] = []
    for position, statement in enumerate(tree.body, start=1):
        nodes, hoisted = hoist(statement)
        imports += hoisted
        for offset, node in enumerate(nodes):
            last = position == len(tree.body) and offset == len(nodes) - 1
            parts.append((position, offset, last, node))
    return parts, imports


def hoist(statement: cst.BaseStatement) -> tuple[list[cst.BaseStatement], list[ImportLine]]:
    """The imports of a statement line, and what else it holds, without semicolons; an import
    fallback (`try: import ujson as json` / `except ImportError: import json`) whole."""
    if isinstance(statement, cst.Try) and is_import_fallback(statement):
        return [], [_fallback_line(statement)]
    if not isinstance(statement, cst.SimpleStatementLine):
        return [statement], []
    if not any(is_import(small) for small in statement.body):
        return [strip_semicolon(statement)], []
    if RUN in analyse_statement(statement).writes:
        return [strip_semicolon(statement)], []  # hoisted, it would shadow the pipeline's run()
    kept: list[cst.BaseStatement] = []
    imports: list[ImportLine] = []
    for small in statement.body:
        if isinstance(small, cst.Import | cst.ImportFrom):
            line = import_line(small)
            if line is not None:
                imports.append(line)
        else:
            bare = small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            kept.append(cst.SimpleStatementLine(body=[bare]))
    if kept and statement.leading_lines:
        kept[0] = kept[0].with_changes(leading_lines=statement.leading_lines)
    return kept, imports


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def is_import_fallback(node: cst.Try) -> bool:
    """`try` importing, `except ImportError` importing something else (or setting a name to a
    literal, such as `ujson = None`); no `else` or `finally`, and nothing binds `run`."""
    if node.orelse is not None or node.finalbody is not None or not node.handlers:
        return False
    if not all(_catches_import_error(handler) for handler in node.handlers):
        return False
    blocks = [simple_statements(b) for b in (node.body, *(h.body for h in node.handlers))]
    if not all(block is not None and all(map(_may_fall_back, block)) for block in blocks):
        return False
    imports = any(is_import(small) for small in blocks[0] or ())
    return imports and RUN not in analyse_statement(node).writes


def _catches_import_error(handler: cst.ExceptHandler) -> bool:
    kind = handler.type
    if kind is None:
        return False
    caught = [e.value for e in kind.elements] if isinstance(kind, cst.Tuple) else [kind]
    return all(isinstance(name, cst.Name) and name.value in _IMPORT_ERRORS for name in caught)


def simple_statements(block: cst.BaseSuite) -> list[cst.BaseSmallStatement] | None:
    """The statements of a block of simple lines; None when it holds a compound statement."""
    if isinstance(block, cst.SimpleStatementSuite):
        return list(block.body)
    assert isinstance(block, cst.IndentedBlock)
    if not all(isinstance(line, cst.SimpleStatementLine) for line in block.body):
        return None
    return [small for line in block.body for small in line.body]  # type: ignore[attr-defined]


def _may_fall_back(small: cst.BaseSmallStatement) -> bool:
    """What an import fallback may hold: imports, `pass` and `NAME = <literal>`."""
    return is_import(small) or isinstance(small, cst.Pass) or _sets_a_literal(small)


def _sets_a_literal(small: cst.BaseSmallStatement) -> bool:
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return False
    target = small.targets[0].target
    return isinstance(target, cst.Name) and literal_value(_EMPTY.code_for_node(small.value))[0]


def _fallback_line(node: cst.Try) -> ImportLine:
    bare = node.with_changes(leading_lines=())
    flow = analyse_statement(bare)
    return ImportLine(_EMPTY.code_for_node(bare), flow.writes, flow.star_imports, bare)


def import_line(small: cst.Import | cst.ImportFrom) -> ImportLine | None:
    """An import as a line of its own; None for the `display` import the module replaces."""
    without = _without_display_import(small)
    if without is None:
        return None
    line = cst.SimpleStatementLine(body=[without.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
    flow = analyse_statement(line)
    return ImportLine(_EMPTY.code_for_node(line), flow.writes, flow.star_imports, line)


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


def strip_semicolon(line: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    if not isinstance(line.body[-1].semicolon, cst.Semicolon):
        return line  # the same node, so its analysis is not done again
    last = line.body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return line.with_changes(body=[*line.body[:-1], last])


def piece_of(
    node: cst.BaseStatement, position: int = 0, offset: int = 0, last: bool = False
) -> Piece:
    """A statement's piece: its flow, and its code when it may go to module level."""
    flow = analyse_statement(node)
    name = node.name.value if isinstance(node, cst.FunctionDef | cst.ClassDef) else None
    constant = constant_name(node)
    if name is None and constant is None:
        return Piece(position, offset, last, flow, bare_read=_reads_only(node))
    code, marked = _code_and_marked(node)
    return Piece(position, offset, last, flow, name, constant, code, marked)


def _code_and_marked(node: cst.BaseStatement) -> tuple[str, str]:
    """A statement's code, and its code with only the comment lines above it kept."""
    leading: Sequence[cst.EmptyLine] = getattr(node, "leading_lines", ())
    rest = _EMPTY.code_for_node(node.with_changes(leading_lines=())) if leading else None
    if rest is None:
        whole = _EMPTY.code_for_node(node)
        return whole, whole
    lines = [(_EMPTY.code_for_node(line), line.comment is not None) for line in leading]
    code = "".join(text for text, _ in lines) + rest
    marked = "".join(text for text, comment in lines if comment) + rest
    return code, marked


def _reads_only(node: cst.BaseStatement) -> bool:
    """`metrics` or `df.shape` alone on a line: a name, or attributes of one, and no call."""
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return False
    small = node.body[0]
    if not isinstance(small, cst.Expr):
        return False
    value = small.value
    while isinstance(value, cst.Attribute):
        value = value.value
    return isinstance(value, cst.Name)


# Value nodes that can be an immutable literal; anything else is not a constant.
_LITERAL_NODES = (
    cst.Integer,
    cst.Float,
    cst.Imaginary,
    cst.SimpleString,
    cst.ConcatenatedString,
    cst.Name,
    cst.Tuple,
    cst.UnaryOperation,
    cst.BinaryOperation,
)


def constant_name(node: cst.BaseStatement) -> str | None:
    """The name of `NAME = <immutable literal>`, else None."""
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    small = node.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    if not isinstance(target, cst.Name) or not isinstance(value, _LITERAL_NODES):
        return None
    found, literal = literal_value(_EMPTY.code_for_node(value))
    return target.value if found and immutable(literal) else None


def immutable(value: object) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(immutable(item) for item in value)
    return value is None or isinstance(value, bool | int | float | complex | str | bytes)


def parse_cell(code: str) -> cst.Module:
    """Parse a cell's cleaned code; a syntax error names the line and what Python said."""
    try:
        _compiles(code)
    except SyntaxError as exc:
        raise NotebookError(
            f"syntax error: {exc.msg}; fix the cell so that it runs in Jupyter", line=exc.lineno
        ) from None
    except ValueError as exc:  # source with NUL bytes
        raise NotebookError(f"cannot be compiled: {exc}") from None
    try:
        return cst.parse_module(code)
    except cst.ParserSyntaxError as exc:
        raise NotebookError(
            f"syntax nb2prod cannot parse yet: {exc.message}", line=exc.raw_line
        ) from None


_LATE_FUTURE = "from __future__ imports must occur at the beginning of the file"


def _compiles(code: str) -> None:
    """Compile a cell as IPython does, raising SyntaxError where it would.

    IPython compiles a cell statement by statement, so a `from __future__` import after
    other statements runs there (it is hoisted to the top of the module); Python's warnings
    about the code (`"is not" with a literal`) are the notebook's, not nb2prod's to print.
    """
    lines = code.split("\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(len(lines)):
            try:
                compile("\n".join(lines), "<cell>", "exec", flags=_FLAGS, dont_inherit=True)
                return
            except SyntaxError as exc:
                line = (exc.lineno or 0) - 1
                late = exc.msg == _LATE_FUTURE and 0 <= line < len(lines)
                if not late or not lines[line].startswith("from __future__"):
                    raise
                # compiled on its own, as IPython compiles it (`braces` is still refused)
                try:
                    compile(lines[line], "<cell>", "exec", flags=_FLAGS, dont_inherit=True)
                except SyntaxError as alone:
                    alone.lineno = line + 1
                    raise alone from None
                lines[line] = ""


_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def _ends_with_semicolon(tree: cst.Module) -> bool:
    """A trailing `;` hides the cell's result in Jupyter."""
    if not tree.body or not isinstance(tree.body[-1], cst.SimpleStatementLine):
        return False
    last = tree.body[-1].body[-1]
    return isinstance(last.semicolon, cst.Semicolon)


# --- a whole cell ------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A cell's cleaned code, what cleaning it said, and its facts: None when the code does
    not parse and the cell is unmarked. `parsed` is the tree the facts were gathered from;
    it is derived, not part of the value (a stored Found comes back without it)."""

    code: str
    notes: tuple[Diagnostic, ...]
    facts: CellFacts | None
    parsed: Parsed | None = field(default=None, compare=False, repr=False)


def examine(source: str, *, strict: bool) -> Found:
    """A cell's source (its comment marks blanked) cleaned of IPython syntax, with its facts.

    `strict` cells (marked ones) must clean and parse, else NotebookError; an exploration cell
    that does not parse has no facts, as it cannot hide state the pipeline lifts.
    """
    cleaned = clean_cell(source, strict=strict)
    try:
        facts, parsed = gather(cleaned.code)
    except NotebookError:
        if strict:
            raise
        return Found(cleaned.code, cleaned.warnings, None)
    if cleaned.quiet:  # `%%capture` shows no result, whatever the cell ends with
        facts = replace(facts, suppressed=True)
    return Found(cleaned.code, cleaned.warnings, facts, parsed)
