"""The pipeline module: hoisted imports, definitions, one function per step, and run()."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from nb2prod.emit import Target
from nb2prod.emit.text import code, docstring, join_sections, literal
from nb2prod.errors import one_line
from nb2prod.lift import Parameter, Plan, Step, with_cell_marker

DISPLAY_FALLBACK = '''
def display(*objs, **kwargs):
    """Show objects as Jupyter's display() does outside a notebook: print them."""
    print(*objs)
'''


def render(plan: Plan, target: Target, steps: Sequence[str]) -> str:
    """The source of `<package>/pipeline.py`, before formatting, with `steps` the code of the
    plan's step functions (`step_codes` of them)."""
    from nb2prod.emit import service  # it builds train() from this module's chain of steps

    module_doc = docstring(f"Pipeline lifted from {target.source} by nb2prod.")
    imports = [*plan.imports]
    if plan.is_async and not any(code(i).strip() == "import asyncio" for i in imports):
        imports.append(cst.parse_statement("import asyncio"))
    return join_sections(
        module_doc,
        "".join(code(statement) for statement in imports),
        DISPLAY_FALLBACK if plan.needs_display else "",
        _definitions(plan),
        *steps,
        run_function(plan, target),
        service.render(plan, target),
    )


def _definitions(plan: Plan) -> str:
    parts = []
    previous = None
    for cell, piece in plan.definitions:
        assert piece.code is not None and piece.marked is not None
        parts.append(f"# cell {cell}\n{piece.marked}" if cell != previous else piece.code)
        previous = cell
    return "\n\n".join(part.strip("\n") for part in parts)


def step_codes(steps: Sequence[Step]) -> list[str]:
    """The code of each step function, before formatting."""
    return [step_code(step) for step in steps]


def step_code(step: Step) -> str:
    """A step function's code, before formatting."""
    doc = cst.SimpleStatementLine([cst.Expr(cst.SimpleString(docstring(step_docstring(step))))])
    body: list[cst.BaseStatement] = [doc]
    if step.globals:  # names functions rebind with `global` stay module globals
        names = [cst.NameItem(cst.Name(name)) for name in step.globals]
        body.append(cst.SimpleStatementLine([cst.Global(names)]))
    body += step.nodes()
    value = _return_value(step)
    if value is not None:
        returned: cst.BaseStatement = cst.SimpleStatementLine([cst.Return(value)])
        marked_cells = {s.cell for s, m in zip(step.body, step.marked, strict=True) if m}
        if step.result_cell is not None and step.result_cell not in marked_cells:
            returned = with_cell_marker(returned, step.result_cell)
        body.append(returned)
    function = cst.FunctionDef(
        name=cst.Name(step.name),
        params=cst.Parameters(params=[cst.Param(cst.Name(p)) for p in step.params]),
        body=cst.IndentedBlock(body=body),
        asynchronous=cst.Asynchronous() if step.is_async else None,
    )
    return code(function)


def step_docstring(step: Step) -> str:
    cells = ", ".join(str(c) for c in step.cells)
    where = f"notebook cell{'s' if len(step.cells) > 1 else ''} {cells}"
    if step.heading:
        return f"{one_line(step.heading)} ({where})."
    return f"{where[0].upper()}{where[1:]}."


def result_alias(step: Step) -> str | None:
    """The returned name that is also the result (`summary` ending the cell), if any."""
    if isinstance(step.result, cst.Name) and step.result.value in step.returns:
        return step.result.value
    return None


def _return_value(step: Step) -> cst.BaseExpression | None:
    values: list[cst.BaseExpression] = [cst.Name(name) for name in step.returns]
    if step.result is not None and result_alias(step) is None:
        values.append(_parenthesised(step.result))
    if not values:
        return None
    if len(values) == 1:
        return step.result if step.result is not None and not step.returns else values[0]
    return cst.Tuple([cst.Element(v) for v in values], lpar=[], rpar=[])


def _parenthesised(node: cst.BaseExpression) -> cst.BaseExpression:
    """A tuple, lambda, yield or walrus result needs brackets inside a returned tuple."""
    if node.lpar or not isinstance(node, cst.Tuple | cst.Lambda | cst.NamedExpr | cst.IfExp):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def run_function(plan: Plan, target: Target) -> str:
    """run(**params): the chain of steps, reading like the notebook's story."""
    signature = ", ".join(signature_part(p) for p in plan.parameters)
    lines = [*state_reset(plan), *default_fill(plan.parameters), *chain(plan)]
    doc = _run_docstring(plan, target)
    names = ", ".join(f"{p.name}={p.name}" for p in plan.parameters)
    if plan.is_async:
        body = "\n".join("    " + line for line in lines) or "    pass"
        return (
            f"def run({signature}):\n    {doc}\n"
            f"    return asyncio.run({plan.run_async_name}({names}))\n\n\n"
            f"async def {plan.run_async_name}({signature}):\n{body}\n"
        )
    body = "\n".join("    " + line for line in lines)
    return f"def run({signature}):\n    {doc}\n{body}\n"


def _run_docstring(plan: Plan, target: Target) -> str:
    returns = (
        f"Returns what cell {plan.result_cell} shows: the value of its last expression."
        if plan.result_cell is not None
        else "Returns None: the last deploy cell ends without an expression."
    )
    return docstring(
        f"Run the pipeline of {target.source}, with its parameters as keyword arguments.",
        returns,
    )


def signature_part(parameter: Parameter) -> str:
    annotation = parameter.annotation
    if parameter.inline:
        typed = f": {annotation}" if annotation else ""
        return f"{parameter.name}{typed} = {parameter.default}"
    typed = f": {annotation} | None" if annotation else ""
    return f"{parameter.name}{typed} = None"


def state_reset(plan: Plan) -> list[str]:
    """Names functions rebind with `global` start unbound on every call, as in a fresh kernel."""
    if not plan.module_state:
        return []
    lines = ["# unbound at the start, as in a fresh kernel: functions rebind these with `global`"]
    return lines + [f"globals().pop({literal(name)}, None)" for name in plan.module_state]


def default_fill(parameters: Sequence[Parameter]) -> list[str]:
    """Defaults that are not immutable literals are made fresh on every call."""
    lines = []
    for p in parameters:
        if not p.inline:
            lines += [f"if {p.name} is None:", f"    {p.name} = {p.default}"]
    return lines


def chain(plan: Plan, *, returning: bool = True) -> list[str]:
    """The lines calling each step in turn, as run() does; `returning` the result at the end
    (train() calls the same steps for the values they leave)."""
    lines = []
    for index, step in enumerate(plan.steps):
        call = f"{'await ' if step.is_async else ''}{step.name}({', '.join(step.params)})"
        outputs = list(step.returns)
        last = index == len(plan.steps) - 1
        if last and step.result is not None:
            if not outputs:
                lines.append(f"return {call}" if returning else call)
                continue
            alias = result_alias(step)
            if alias is None:
                outputs.append(plan.result_var)
            lines.append(f"{', '.join(outputs)} = {call}")
            if returning:
                lines.append(f"return {alias or plan.result_var}")
            continue
        lines.append(f"{', '.join(outputs)} = {call}" if outputs else call)
    return lines
