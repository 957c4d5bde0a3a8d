"""The serving part of `pipeline.py`: the factory, the service, train() and load().

The factory repeats the serving functions' defs (and the notebook functions they call that live
inside steps) as closures over its parameters, the artifacts: the same body and signature as
the notebook's functions, which close over the notebook's globals. train() runs the steps as
run() does and saves the artifacts as the last step leaves them; load() checks and reads them
back and hands them to the factory. Both use the package's runtime module.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from nb2prod.emit import Target
from nb2prod.emit.module import chain, default_fill, signature_part, state_reset
from nb2prod.emit.requirements import requirements
from nb2prod.emit.text import code, docstring, join_sections, literal
from nb2prod.lift import Plan, with_cell_marker
from nb2prod.lift.serving import Serving
from nb2prod.lift.statements import Statement


def render(plan: Plan, target: Target) -> str:
    """The serving section of the pipeline module, or '' when the notebook has no serve cells."""
    serving = plan.serving
    if serving is None:
        return ""
    return join_sections(
        _constants(serving),
        _factory(serving),
        _service_class(serving, target),
        _train(plan, serving, target),
        _load(serving, target),
    )


def _cells(serving: Serving) -> str:
    cells = ", ".join(str(cell) for cell in serving.cells)
    return f"notebook cell{'s' if len(serving.cells) > 1 else ''} {cells}"


def _constants(serving: Serving) -> str:
    names = serving.names
    origins = {artifact.name: artifact.origin for artifact in serving.artifacts}
    return (
        "# The notebook version artifacts must come from: the SHA-256 of its parameters, deploy\n"
        "# and serve cells.\n"
        f"{names.notebook_hash} = {literal(serving.notebook_hash)}\n\n"
        "# What the serving functions read, which train() saves and load() reads: each name\n"
        "# with the cell that binds or last changes it.\n"
        f"{names.artifacts} = {origins!r}\n"
    )


def _factory(serving: Serving) -> str:
    names = serving.names
    doc = docstring(
        f"The serving functions of {_cells(serving)}, bound to the artifacts they read.",
        "load() passes the artifacts train() saved; any values of your own will do for a try.",
    )
    returned = ", ".join(f.name for f in serving.functions)
    body: list[cst.BaseStatement] = [
        cst.SimpleStatementLine([cst.Expr(cst.SimpleString(doc))]),
        *_marked(serving.body),
        cst.parse_statement(f"return {names.service}({returned})"),
    ]
    function = cst.FunctionDef(
        name=cst.Name(names.factory),
        params=cst.Parameters(params=[cst.Param(cst.Name(a.name)) for a in serving.artifacts]),
        body=cst.IndentedBlock(body=body),
    )
    return code(function)


def _marked(statements: Sequence[Statement]) -> list[cst.BaseStatement]:
    """The defs, the first of each cell under its `# cell N` comment."""
    nodes = []
    previous = None
    for statement in statements:
        node = statement.node
        nodes.append(with_cell_marker(node, statement.cell) if statement.cell != previous else node)
        previous = statement.cell
    return nodes


def _service_class(serving: Serving, target: Target) -> str:
    functions = [f.name for f in serving.functions]
    doc = docstring(
        f"What load() returns: the serving functions of {target.source}, bound to trained "
        "artifacts, each an attribute of its own name."
    )
    slots = ", ".join(literal(name) for name in functions) + ("," if len(functions) == 1 else "")
    assign = "".join(f"        self.{name} = {name}\n" for name in functions) or "        pass\n"
    shown = literal(f"<{serving.names.service} of {target.source}: {', '.join(functions)}>")
    return (
        f"class {serving.names.service}:\n    {doc}\n\n    __slots__ = ({slots})\n\n"
        f"    def __init__(self{''.join(f', {name}' for name in functions)}):\n{assign}\n"
        f"    def __repr__(self):\n        return {shown}\n"
    )


def _train(plan: Plan, serving: Serving, target: Target) -> str:
    names = serving.names
    keywords = ", ".join(signature_part(p) for p in plan.parameters)
    signature = f"{names.directory}={literal('artifacts')}" + (
        f", *, {keywords}" if keywords else ""
    )
    listed = ", ".join(f"{a.name} ({a.origin})" for a in serving.artifacts) or "nothing"
    doc = docstring(
        f"Run the pipeline of {target.source} and save what its serving functions read.",
        f"Saves each as it is after the last deploy cell, {listed}, one file each with "
        f"manifest.json, into `{names.directory}`, which is replaced whole: a failed train "
        "leaves it as it was. Prints each artifact's size to stderr and warns above 100 MB. "
        "The parameters are run()'s. Returns the manifest.",
    )
    values = ", ".join(f"{literal(a.name)}: {a.name}" for a in serving.artifacts)
    given = ", ".join(f"{literal(p.name)}: {p.name}" for p in plan.parameters)
    versions = {target.package: "0.1.0", "nb2prod": target.nb2prod_version}
    distributions = tuple(requirements(plan.all_imports()))
    save = (
        f"return {names.runtime}.save_trained(\n"
        f"    {names.directory},\n"
        f"    {{{values}}},\n"
        f"    package={literal(target.package)},\n"
        f"    notebook={literal(target.source)},\n"
        f"    notebook_hash={names.notebook_hash},\n"
        f"    cells={names.artifacts},\n"
        f"    parameters={{{given}}},\n"
        f"    versions={versions!r},\n"
        f"    distributions={distributions!r},\n"
        ")"
    )
    lines = [*state_reset(plan), *default_fill(plan.parameters), *chain(plan, returning=False)]
    if plan.is_async:
        return _async_train(plan, serving, signature, doc, lines, save)
    body = "\n".join(
        f"    {line}" for line in [*lines, _import_runtime(serving), *save.split("\n")]
    )
    return f"def train({signature}):\n    {doc}\n{body}\n"


def _async_train(
    plan: Plan, serving: Serving, signature: str, doc: str, lines: list[str], save: str
) -> str:
    """With top-level await, the steps run on one event loop, as run() runs them (the module
    imports asyncio for run() already)."""
    names = serving.names
    keywords = ", ".join(f"{p.name}={p.name}" for p in plan.parameters)
    inner = ", ".join(signature_part(p) for p in plan.parameters)
    chained = "\n".join(f"    {line}" for line in lines) or "    pass"
    values = ", ".join(a.name for a in serving.artifacts)
    returned = f"    return ({values}{',' if len(serving.artifacts) == 1 else ''})"
    saving = "\n".join(f"    {line}" for line in save.split("\n"))
    unpack = f"    {values}{',' if len(serving.artifacts) == 1 else ''} = " if values else "    "
    return (
        f"def train({signature}):\n    {doc}\n"
        f"{unpack}asyncio.run({names.chain}({keywords}))\n"
        f"    {_import_runtime(serving)}\n{saving}\n\n\n"
        f"async def {names.chain}({inner}):\n{chained}\n{returned}\n"
    )


def _import_runtime(serving: Serving) -> str:
    alias = serving.names.runtime
    return "from . import runtime" + (f" as {alias}" if alias != "runtime" else "")


def _load(serving: Serving, target: Target) -> str:
    names = serving.names
    first = serving.functions[0].name if serving.functions else "function"
    doc = docstring(
        f"The serving functions of {target.source}, bound to what train() saved in "
        f"`{names.directory}`: `load().{first}(...)`.",
        "The manifest is checked first (this package, this notebook version, each file's size "
        "and sha256) and nothing is unpickled before: runtime.ArtifactError otherwise. A "
        "library installed in another version than at training is a warning "
        "(runtime.ArtifactVersionWarning). Artifacts are pickles, which run code as they "
        "load: load only folders your own training wrote.",
    )
    return (
        f"def load({names.directory}={literal('artifacts')}):\n    {doc}\n"
        f"    {_import_runtime(serving)}\n\n"
        f"    values, _ = {names.runtime}.load_trained(\n"
        f"        {names.directory},\n"
        f"        package={literal(target.package)},\n"
        f"        notebook_hash={names.notebook_hash},\n"
        f"        names={names.artifacts},\n"
        "    )\n"
        f"    return {names.factory}(**values)\n"
    )
