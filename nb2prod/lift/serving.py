"""Serving functions: the defs of serve cells, the artifacts they read, and the checks on them.

A serving function reads artifacts (names that deploy steps or the parameters cell bind), code
(imports, constants, module-level functions) and other functions of the notebook (defs and
`NAME = lambda ...`), whose own reads count as its reads; any other free name is an error
naming the function and the name. An import the steps keep (of a name bound more than once) is
code too, when it is the binding the serving function sees: the factory repeats it.
The notebook's function closes over its globals; the factory the module emits closes over the
artifacts in the same way, with the same body. The steps hand the artifacts (and the serving
functions themselves, for the generated tests) on to the end of the pipeline, so that train()
saves each as it is after the last deploy cell, changes in place included.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from nb2prod.analysis.facts import (
    function_declaring_global,
    import_line,
    import_of,
    is_import_fallback,
    line_within,
)
from nb2prod.analysis.selection import CodeCell, Selection, statement_lines
from nb2prod.errors import Diagnostic, NotebookError, warning
from nb2prod.lift import data_reads
from nb2prod.lift.statements import Place, Statement, StepCells, line_of
from nb2prod.literals import literal_value
from nb2prod.naming import BUILTINS, NameAllocator
from nb2prod.notebook.cells import PIPELINE_ROLES, Role

_EMPTY = cst.Module([])
_DUNDERS = frozenset({"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__"})
# Names the package's command line and web API give to other things.
_TAKEN = {"run": "the pipeline's run()", "train": "the package's train()", "self": "the service"}
# A default repr names a memory address, which no later run reproduces.
_MEMORY_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")
TRAIN, LOAD = "train", "load"


@dataclass(frozen=True)
class Artifact:
    """A value a serving function reads that the pipeline computes: saved by train()."""

    name: str
    cell: int | None  # the cell that binds or last changes it; None: a parameter, as given

    @property
    def origin(self) -> str:
        return f"cell {self.cell}" if self.cell is not None else "parameter"


@dataclass(frozen=True)
class ServingFunction:
    """A public def of a serve cell: a CLI subcommand, an endpoint, an attribute of load()."""

    name: str
    cell: int
    arguments: tuple[str, ...]  # what it takes, by name, in order
    doc: str | None


@dataclass(frozen=True)
class LiteralCall:
    """A call of a serving function with literal arguments somewhere in the notebook.

    `recorded` is the text Jupyter showed for it, when the call is its cell's result.
    """

    function: str
    cell: int
    code: str
    arguments: tuple[tuple[str, object], ...]
    recorded: str | None = None


@dataclass(frozen=True)
class ServingNames:
    """The module-level names the serving code adds, clear of the notebook's own."""

    factory: str
    service: str
    notebook_hash: str
    artifacts: str
    directory: str  # train()'s and load()'s first parameter
    runtime: str  # the runtime module, as train() and load() import it
    chain: str  # the coroutine train() runs when the steps await


@dataclass(frozen=True)
class Serving:
    """Everything the emitters need to train, load and serve the notebook's functions.

    `body` holds the statements the factory repeats, in notebook order: the serving functions,
    the notebook functions they call that live inside steps (defs and `NAME = lambda ...`), and
    the imports kept inside steps that bind what they read. `handed_on` are the names the steps
    must hand on to the end of the pipeline.
    """

    functions: tuple[ServingFunction, ...]
    artifacts: tuple[Artifact, ...]
    body: tuple[Statement, ...]
    module_level: tuple[str, ...]  # serving functions that live at module level, unchanged
    calls: tuple[LiteralCall, ...]
    cells: tuple[int, ...]
    notebook_hash: str
    names: ServingNames
    handed_on: frozenset[str]

    @property
    def summary(self) -> str:
        """The build's line: `serving reads model (cell 16), threshold (parameter)`."""
        if not self.artifacts:
            return "serving reads no artifacts: its functions need only code"
        listed = ", ".join(f"{a.name} ({a.origin})" for a in self.artifacts)
        return f"serving reads {listed}"


def analyse(
    selection: Selection,
    groups: Sequence[StepCells],
    definitions: Sequence[Statement],
    parameters: set[str],
    module_names: set[str],
    star_imports: bool,
    allocator: NameAllocator,
    state: frozenset[str] = frozenset(),
) -> tuple[Serving | None, list[Diagnostic]]:
    """The serving functions of the serve cells and what they read; None without serve cells.

    `state` are the names functions rebind with `global` (`placement.module_state`). Raises
    NotebookError for a serve cell holding more than defs and imports, a serving function
    reading a name no deploy or parameters cell binds, one the pipeline loses, or one that
    calls a function rebinding module state.
    """
    serve_cells = selection.with_role(Role.SERVE)
    if not serve_cells:
        return None, []
    # A name defined again in a later serve cell is that cell's function, as in the notebook.
    defined = {f.name: f for cell in serve_cells for f in _functions_of(cell)}
    functions = list(defined.values())
    statements = sorted([*definitions, *(s for g in groups for s in g.statements)], key=_place)
    binders = {name: s for s in statements for name in s.flow.writes}
    module_level = {name for d in definitions for name in d.flow.writes}
    for function in functions:
        _check_binding(function, binders)
    reader = _Reader(binders, module_level, parameters, module_names, star_imports, state, groups)
    body, artifacts_read = reader.closure([binders[f.name] for f in functions])
    artifacts = tuple(_artifact(name, statements) for name in artifacts_read)
    body = [_repeated(s, set(artifacts_read)) for s in body if s.function not in module_level]
    for artifact in artifacts:
        _check_kept(artifact, binders, reader.readers[artifact.name])
        _check_importable(artifact, binders, module_level, parameters)
    notes = [
        *_table_warnings(artifacts, binders, statements, reader.readers),
        *_per_call_warnings(functions, binders, definitions, reader),
    ]
    step_bound = {a.name for a in artifacts if a.name in binders}
    closures = {f.name for f in functions if f.name not in module_level}
    names = _names(allocator)
    serving = Serving(
        functions=tuple(f for f in functions if not f.name.startswith("_")),
        artifacts=artifacts,
        body=tuple(body),
        module_level=tuple(f.name for f in functions if f.name in module_level),
        calls=tuple(_literal_calls(selection, functions)),
        cells=tuple(cell.index for cell in serve_cells),
        notebook_hash=notebook_hash(selection),
        names=names,
        handed_on=frozenset(step_bound | closures),
    )
    return serving, [*notes, Diagnostic(serving.summary, note=True)]


def _place(statement: Statement) -> tuple[int, int, int]:
    return tuple(statement.place)  # type: ignore[return-value]


def notebook_hash(selection: Selection) -> str:
    """The SHA-256 of what the pipeline is made of: the parameters, deploy and serve cells'
    code and marks. Running the notebook again or editing exploration cells keeps it."""
    roles = {Role.PARAMETERS, *PIPELINE_ROLES}
    parts = [f"{cell.role.value}:{cell.key}" for cell in selection.cells if cell.role in roles]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _names(allocator: NameAllocator) -> ServingNames:
    return ServingNames(
        factory=allocator.claim("serving", "factory"),
        service=allocator.claim("Service", "class"),
        notebook_hash=allocator.claim("NOTEBOOK_SHA256", "value"),
        artifacts=allocator.claim("ARTIFACTS", "value"),
        directory=allocator.claim("artifacts_dir", "path"),
        runtime=allocator.claim("runtime", "module"),
        chain=allocator.claim("_train", "async"),
    )


def reserved_names(module_names: set[str], definitions: Sequence[Statement]) -> None:
    """train() and load() are the package's: no module-level name of the notebook may take them."""
    for name in (TRAIN, LOAD):
        if name not in module_names:
            continue
        where = next((d for d in definitions if name in d.flow.writes), None)
        raise NotebookError(
            f"`{name}` is defined at module level, and with serve cells the package's own "
            f"{name}() needs that name; rename it (`{name}_data`, say)",
            cell=where.cell if where is not None else None,
        )


# --- the serve cells ---------------------------------------------------------------------


def _functions_of(cell: CodeCell) -> list[ServingFunction]:
    """The defs of a serve cell; NotebookError for anything but defs and imports."""
    found = []
    for line, statement in zip(statement_lines(cell.tree), cell.tree.body, strict=True):
        if _is_imports(statement):
            continue
        if not isinstance(statement, cst.FunctionDef) or statement.asynchronous is not None:
            raise NotebookError(
                "a serve cell holds only function definitions and imports, not "
                f"{_kind(statement)}; move it to a deploy cell",
                cell=cell.index,
                line=line,
            )
        found.append(_serving_function(statement, cell.index, line))
    if not found:
        raise NotebookError(
            "is marked serve but defines no function; define the function that scores one case "
            "here (`def predict(x): ...`), or remove the mark",
            cell=cell.index,
        )
    return found


def _is_imports(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, cst.Import | cst.ImportFrom) for small in statement.body
    )


def _kind(statement: cst.BaseStatement) -> str:
    if isinstance(statement, cst.FunctionDef):
        return f"`async def {statement.name.value}` (call it from a plain def)"
    if isinstance(statement, cst.ClassDef):
        return f"class `{statement.name.value}`"
    bare = statement.with_changes(leading_lines=())  # the comments above it are no code
    return f"`{one_line_code(bare)}`"


def one_line_code(node: cst.CSTNode, limit: int = 60) -> str:
    text = " ".join(_EMPTY.code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _serving_function(node: cst.FunctionDef, cell: int, line: int) -> ServingFunction:
    name = node.name.value
    if name in _TAKEN:
        raise NotebookError(
            f"a serving function cannot be called `{name}`: that is {_TAKEN[name]}'s name in the "
            "command line and the web API; rename it",
            cell=cell,
            line=line,
        )
    params = node.params
    if isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:
        raise NotebookError(
            f"serving function `{name}` takes *args or **kwargs; the command line and the web "
            "API pass its arguments as a JSON object by name, so name each one",
            cell=cell,
            line=line,
        )
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    doc = node.get_docstring()
    return ServingFunction(name, cell, tuple(p.name.value for p in every), doc or None)


def _check_binding(function: ServingFunction, binders: dict[str, Statement]) -> None:
    binder = binders.get(function.name)
    if binder is None or (binder.cell == function.cell and binder.is_definition):
        return
    raise NotebookError(
        f"cell {binder.cell} binds `{function.name}` again after the serve cell defines it, so "
        f"the notebook's `{function.name}` is no longer the serving function; rename one of them",
        cell=function.cell,
    )


# --- what serving functions read ---------------------------------------------------------


class _Reader:
    """Sorts the names serving functions read into artifacts, code and statements to repeat
    (functions, whose reads are sorted in turn, and imports kept inside steps)."""

    def __init__(
        self,
        binders: dict[str, Statement],
        module_level: set[str],
        parameters: set[str],
        module_names: set[str],
        star_imports: bool,
        state: frozenset[str],
        groups: Sequence[StepCells],
    ) -> None:
        self.binders = binders
        self.module_level = module_level
        self.parameters = parameters
        self.module_names = module_names
        self.star_imports = star_imports
        self.state = state
        self.groups = groups
        self.readers: dict[str, Statement] = {}  # artifact -> the first def that reads it

    def closure(self, roots: Sequence[Statement]) -> tuple[list[Statement], list[str]]:
        """The statements to repeat (roots first, then what they call and import, in notebook
        order) and the artifacts they read, in the order first read."""
        seen: dict[Place, Statement] = {}
        artifacts: dict[str, None] = {}
        # (a def, the serving function needing it, the def that calls it)
        pending = [(root, root, root) for root in roots]
        while pending:
            definition, root, caller = pending.pop(0)
            if definition.place in seen:
                continue
            seen[definition.place] = definition
            self._check_state(definition, root, caller)
            for name in definition.flow.names_read:
                kind = self._kind(name, definition, root)
                if kind == "artifact":
                    artifacts.setdefault(name)
                    self.readers.setdefault(name, root)
                elif kind == "function":
                    pending.append((self.binders[name], root, definition))
                elif kind == "import":
                    seen.setdefault(self.binders[name].place, self.binders[name])
        return sorted(seen.values(), key=_place), list(artifacts)

    def _kind(self, name: str, reader: Statement, root: Statement) -> str:
        binder = self.binders.get(name)
        if binder is not None:
            if name in self.module_level:
                return "code"
            if binder.function == name:  # a def, a class or `NAME = lambda ...`
                return "function"
            return "import" if _is_import_binding(binder) else "artifact"
        if name in self.parameters:
            return "artifact"
        if name in self.module_names or name in BUILTINS | _DUNDERS or self.star_imports:
            return "code"
        through = f" (through `{reader.name}`, cell {reader.cell})" if reader is not root else ""
        raise NotebookError(
            f"serving function `{root.name}` reads `{name}`{through}, which no deploy or "
            "parameters cell binds; a serving function may read what the deploy cells and "
            "parameters bind (its artifacts), imports, constants and the notebook's functions: "
            f"bind `{name}` in a deploy cell, or pass it as an argument",
            cell=root.cell,
        )

    def _check_state(self, definition: Statement, root: Statement, caller: Statement) -> None:
        """A served function that rebinds module state would change it on every request,
        shared by all requests and threads, in a process where the pipeline never ran."""
        rebound = sorted(definition.flow.global_writes & self.state)
        if not rebound:
            return
        name = rebound[0]
        found = function_declaring_global(definition.node, name)
        function = found[0] if found is not None else definition.function
        line = line_of(definition, self.groups)
        if found is not None and line is not None:
            line += line_within(definition.node, found[1])
        if definition is root:
            how = f"rebinds `{name}` with `global`"
        else:
            through = f" (through `{caller.function}`)" if caller is not root else ""
            how = f"calls `{function}`{through}, which rebinds `{name}` with `global`"
        raise NotebookError(
            f"serving function `{root.function}` {how}: served, it would change `{name}` on "
            "every request, shared by all requests and threads, which no saved artifact can "
            f"stand for; let the serving function only read `{name}` (its value after the "
            "last deploy cell is an artifact), or have the function return the new value",
            cell=definition.cell,
            line=line,
        )


def _is_import_binding(statement: Statement) -> bool:
    """Whether a statement is an import the steps keep: an import line or a fallback `try`."""
    node = statement.node
    if isinstance(node, cst.Try):
        return is_import_fallback(node)
    return _is_imports(node)


def _repeated(statement: Statement, artifacts: set[str]) -> Statement:
    """The statement the factory repeats: a kept import line less the names that are
    artifacts (bound again later by a value), which the factory takes as parameters."""
    node = statement.node
    clash = artifacts.intersection(statement.flow.writes)
    if not clash:
        return statement
    if not isinstance(node, cst.SimpleStatementLine):
        name = sorted(clash)[0]
        raise NotebookError(
            f"the import fallback here binds `{name}` too, which a serving function reads as "
            "the value a later cell binds; give that value another name",
            cell=statement.cell,
        )
    smalls = []
    for small in node.body:
        assert isinstance(small, cst.Import | cst.ImportFrom)
        line = import_line(small)
        kept = None if line is None else import_of(line, set(line.writes) - clash)
        if kept is not None:
            smalls.append(kept)
    return Statement.of(statement.place, node.with_changes(body=smalls))


def _artifact(name: str, statements: Sequence[Statement]) -> Artifact:
    """An artifact with the cell that binds it or last changes it in place."""
    cell = None
    for statement in statements:
        if statement.is_definition:
            continue
        if name in statement.flow.writes or _changes(statement, name):
            cell = statement.cell
    return Artifact(name, cell)


def _changes(statement: Statement, name: str) -> bool:
    """Whether a statement may change `name` in place: the effects table's conservative answer
    (`Flow.may_mutate`: `name[...] =`, `name.x =`, a call of a method not known to leave its
    object alone, `model.fit(X, y)`), the one the steps use to hand changed inputs on."""
    return name in statement.flow.may_mutate


def _check_kept(artifact: Artifact, binders: dict[str, Statement], reader: Statement) -> None:
    """An artifact the pipeline deletes (`del model`) cannot be saved after the last cell."""
    binder = binders.get(artifact.name)
    if binder is None or artifact.name not in binder.flow.unbinds:
        return
    if artifact.name in binder.flow.must:
        return
    raise NotebookError(
        f"serving function `{reader.name}` reads `{artifact.name}`, which cell {binder.cell} "
        "deletes, so it has no value after the last deploy cell; keep it",
        cell=reader.cell,
    )


def _check_importable(
    artifact: Artifact, binders: dict[str, Statement], module_level: set[str], parameters: set[str]
) -> None:
    """An artifact made by a class (or that is a function) the notebook defines inside a step
    cannot be pickled: a pickle names its class by where it is defined, and a step's locals are
    nowhere another process can import them from."""
    binder = binders.get(artifact.name)
    if binder is None or binder.is_definition:
        return
    for value in _assigned(binder.node, artifact.name):
        made = value.func if isinstance(value, cst.Call) else value
        if not isinstance(made, cst.Name) or made.value in module_level:
            continue
        local = binders.get(made.value)
        if local is None or local.function != made.value:
            continue
        if not local.is_definition:
            raise NotebookError(
                f"`{artifact.name}`, which a serving function reads, holds the lambda "
                f"`{made.value}`, which pickle cannot save by name: train() could not save it. "
                f"Let the serving function call `{made.value}` itself, or define it with `def`",
                cell=binder.cell,
            )
        reads = [n for n in local.flow.names_read if n in parameters or n in binders]
        reads = [n for n in reads if n not in module_level and n != made.value]
        kind = "class" if isinstance(local.node, cst.ClassDef) else "function"
        held = (
            f"an object of class `{made.value}`"
            if isinstance(value, cst.Call)
            else (f"the function `{made.value}`")
        )
        raise NotebookError(
            f"`{artifact.name}`, which a serving function reads, holds {held}, which reads "
            f"`{reads[0] if reads else '?'}` and so is defined inside a step, where no other "
            f"process can import it from: train() could not save it. Make the {kind} read only "
            "its arguments (pass the value in), so that it lives at module level",
            cell=binder.cell,
        )


# --- warnings: the training table, reads on every call -----------------------------------


def _table_warnings(
    artifacts: Sequence[Artifact],
    binders: dict[str, Statement],
    statements: Sequence[Statement],
    readers: dict[str, Statement],
) -> Iterator[Diagnostic]:
    """An artifact bound from a data read is the training table, shipped with the model."""
    for artifact in artifacts:
        read = _table_read(artifact.name, binders.get(artifact.name), statements, depth=0)
        if read is None:
            continue
        reader = readers[artifact.name]
        cell, call = read
        yield warning(
            f"serving function `{reader.name}` reads `{artifact.name}`, which cell {cell} "
            f"binds from a data read (`{call}`): train() would save the training table with "
            "the model, and every answer would depend on batch data; compute what the function "
            "needs in a deploy cell (a lookup table, a fitted encoder) and read that instead",
            reader.cell,
        )


def _table_read(
    name: str, binder: Statement | None, statements: Sequence[Statement], depth: int
) -> tuple[int, str] | None:
    """(cell, callee) of the data read `name`'s value comes from, following chains of methods
    and indexing on earlier values of the same kind (`rows = rows.dropna()`)."""
    if binder is None or binder.is_definition or depth > 20:
        return None
    for value in _assigned(binder.node, name):
        call, root = data_reads.table_source(value)
        if call is not None:
            return binder.cell, data_reads.describe(call)
        if root is not None:
            earlier = _binder_before(root, binder, statements)
            found = _table_read(root, earlier, statements, depth + 1)
            if found is not None:
                return found
    return None


def _binder_before(
    name: str, statement: Statement, statements: Sequence[Statement]
) -> Statement | None:
    found = None
    for other in statements:
        if _place(other) >= _place(statement):
            break
        if name in other.flow.writes:
            found = other
    return found


def _assigned(node: cst.CSTNode, name: str) -> list[cst.BaseExpression]:
    """The values assigned to `name` in a statement, outside nested functions and classes."""
    visitor = _Assignments(name)
    node.visit(visitor)
    return visitor.values


class _Assignments(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.values: list[cst.BaseExpression] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(_is_name(t.target, self.name) for t in node.targets):
            self.values.append(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and _is_name(node.target, self.name):
            self.values.append(node.value)


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _per_call_warnings(
    functions: Sequence[ServingFunction],
    binders: dict[str, Statement],
    definitions: Sequence[Statement],
    reader: _Reader,
) -> Iterator[Diagnostic]:
    """A serving function that reads files or the network, itself or through the notebook's
    functions it calls, does so on every request."""
    by_name = {d.name: d for d in definitions if d.is_definition}
    by_name |= {n: s for n, s in binders.items() if s.is_definition}
    for function in functions:
        found = _first_data_call(binders[function.name], by_name, set())
        if found is None:
            continue
        statement, call, line = found
        where = "" if statement.name == function.name else f" (through `{statement.name}`)"
        yield warning(
            f"serving function `{function.name}` reads data on every call{where}: "
            f"`{data_reads.describe(call)}` in cell {statement.cell}; the online path should use "
            "only what the request brings and what train() saved: read it in a deploy cell",
            function.cell,
            line,
        )


def _first_data_call(
    definition: Statement, by_name: dict[str, Statement], seen: set[str]
) -> tuple[Statement, cst.Call, int | None] | None:
    seen.add(definition.name)
    node = definition.node
    assert isinstance(node, cst.FunctionDef | cst.ClassDef)
    calls = data_reads.data_calls(node.body)
    if calls:
        return definition, calls[0], _line(definition, calls[0])
    for name in sorted(definition.flow.deferred):
        called = by_name.get(name)
        if called is not None and name not in seen:
            found = _first_data_call(called, by_name, seen)
            if found is not None:
                return found
    return None


def _line(statement: Statement, node: cst.CSTNode) -> int | None:
    """The line of a node in its cell, for a message."""
    if statement.source is None:
        return None
    positions = MetadataWrapper(statement.source.tree, unsafe_skip_copy=True).resolve(
        PositionProvider
    )
    found = positions.get(node)
    return found.start.line if found is not None else None


# --- literal calls -----------------------------------------------------------------------


def _literal_calls(
    selection: Selection, functions: Sequence[ServingFunction]
) -> Iterator[LiteralCall]:
    """Each call of a serving function whose arguments are all literals, in notebook order,
    once per distinct call; only the cells that mention a serving function are parsed."""
    public = {f.name: f for f in functions if not f.name.startswith("_")}
    if not public:
        return
    mention = re.compile(r"\b(?:" + "|".join(map(re.escape, public)) + r")\s*\(")
    seen: set[str] = set()
    for cell in selection.cells:
        if not mention.search(cell.code):
            continue
        for call in _calls_in(cell.tree, set(public)):
            literal = _literal_call(call, cell, public[_called(call)])
            if literal is not None and literal.code not in seen:
                seen.add(literal.code)
                yield literal


def _called(call: cst.Call) -> str:
    assert isinstance(call.func, cst.Name)
    return call.func.value


def _calls_in(tree: cst.Module, names: set[str]) -> list[cst.Call]:
    visitor = _NamedCalls(names)
    tree.visit(visitor)
    return visitor.found


class _NamedCalls(cst.CSTVisitor):
    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.found: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in self.names:
            self.found.append(node)


def _literal_call(call: cst.Call, cell: CodeCell, function: ServingFunction) -> LiteralCall | None:
    """The call with its arguments by name, if each is a literal and they fit the function."""
    arguments: dict[str, object] = {}
    positional = 0
    for arg in call.args:
        if arg.star:
            return None
        found, value = literal_value(_EMPTY.code_for_node(arg.value))
        if not found:
            return None
        if arg.keyword is None:
            if positional >= len(function.arguments):
                return None
            name = function.arguments[positional]
            positional += 1
        else:
            name = arg.keyword.value
        if name in arguments or name not in function.arguments:
            return None
        arguments[name] = value
    code = _EMPTY.code_for_node(call.with_changes(lpar=[], rpar=[]))
    return LiteralCall(
        function.name, cell.index, code, tuple(arguments.items()), _recorded(call, cell)
    )


def _recorded(call: cst.Call, cell: CodeCell) -> str | None:
    """The text Jupyter showed for the cell, when the call is what it shows."""
    text = cell.result_text
    if text is None or cell.suppressed or _MEMORY_ADDRESS.search(text) or not cell.tree.body:
        return None
    last = cell.tree.body[-1]
    if not isinstance(last, cst.SimpleStatementLine):
        return None
    tail = last.body[-1]
    return text if isinstance(tail, cst.Expr) and tail.value is call else None
