"""`tests/test_<package>.py`: signature checks, test cells, smoke and golden tests of run()."""

from __future__ import annotations

import libcst as cst

from nb2prod.emit import Target, golden
from nb2prod.emit.module import result_alias
from nb2prod.emit.text import code, docstring, join_sections, literal
from nb2prod.lift import Plan, TestCell, module_names_read


def render(plan: Plan, target: Target) -> str:
    """The source of the generated test module, before formatting."""
    pkg = target.package
    module_doc = docstring(f"Tests generated from {target.source}: run them with pytest.")
    imports = (
        "import inspect\nfrom pathlib import Path\nfrom typing import Any\n\nimport pytest\n\n"
    )
    alias = plan.module_alias
    imports += f"import {pkg} as {plan.package_alias}\n"
    imports += f"from {pkg} import pipeline{'' if alias == 'pipeline' else f' as {alias}'}\n"
    needed = _default_names(plan)
    if needed:
        imports += f"from {pkg}.pipeline import {', '.join(needed)}\n"
    imports += "".join(code(statement) for statement in plan.test_imports)
    return join_sections(
        module_doc,
        imports,
        _notebook_folder(target),
        _signature_test(plan, target),
        _smoke_test(plan),
        golden.render(plan),
        _state_fixture(plan) if plan.tests else "",
        *(_test_cell(test, plan) for test in plan.tests),
        _api_tests(plan, target),
        _store_test(plan, target),
    )


def _store_test(plan: Plan, target: Target) -> str:
    """With an orchestrator's DAG, every step run apart through a store, without the engine."""
    if not target.airflow:
        return ""
    from nb2prod.emit.steps import Names

    pipeline = Names.of(plan).pipeline
    doc = docstring(
        "Every step on its own, as an Airflow task runs it: its inputs loaded from a store and "
        "what it hands on saved there. The result is run()'s; a value that a step changes in "
        "place without handing it on would make them differ."
    )
    return f"""def test_steps_run_apart_through_a_store(tmp_path: Path) -> None:
    {doc}
    import json

    from {target.package}.runtime import Store, dumps
    from {target.package}.steps import {pipeline}

    store = Store(str(tmp_path / "store"))
    {pipeline}.run_all(store, "test")
    assert store.read_result("test") == json.loads(dumps({plan.module_alias}.run()))
"""


def _api_tests(plan: Plan, target: Target) -> str:
    """With --api, the tests of the web API."""
    if not target.api:
        return ""
    from nb2prod.emit import api_tests

    return api_tests.render(plan, target)


def _default_names(plan: Plan) -> list[str]:
    """Module names (imports, defs) that the parameters' defaults read, for the state fixture."""
    return list(module_names_read(plan.parameters)) if plan.tests else []


def _notebook_folder(target: Target) -> str:
    folder = literal(target.notebook_dir_from_tests)
    return f'''NOTEBOOK_DIR = Path(__file__).parent / {folder}


@pytest.fixture(autouse=True)
def in_notebook_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where the notebook ran, so its relative data paths work."""
    if NOTEBOOK_DIR.is_dir():
        monkeypatch.chdir(NOTEBOOK_DIR)
'''


def _signature_test(plan: Plan, target: Target) -> str:
    names = [p.name for p in plan.parameters]
    lines = [
        f"signature = inspect.signature({plan.module_alias}.run).parameters",
        f"assert list(signature) == {names!r}",
    ]
    for p in plan.parameters:
        expected = p.default if p.inline else "None"
        compare = "is" if expected in {"None", "True", "False"} else "=="
        lines.append(f"assert signature[{literal(p.name)}].default {compare} {expected}")
    for step in plan.steps:
        lines.append(f"assert callable({plan.package_alias}.{step.name})")
    lines.append(f"assert {plan.package_alias}.run is {plan.module_alias}.run")
    body = "\n".join("    " + line for line in lines)
    doc = '"""The package exports run() and its steps."""'
    return f"def test_imports_and_signature() -> None:\n    {doc}\n{body}\n"


def _smoke_test(plan: Plan) -> str:
    return (
        "def test_run_with_notebook_parameters() -> None:\n"
        '    """run() completes with the notebook\'s own parameters."""\n'
        f"    {plan.module_alias}.run()\n"
    )


def _state_fixture(plan: Plan) -> str:
    """The names the pipeline binds after each step, for the test cells to read."""
    lines = ["state: dict[str, Any] = {}"]
    for p in plan.parameters:
        lines.append(f"{p.name} = {p.default}")
        lines.append(f"state[{literal(p.name)}] = {p.name}")
    lines.append("states = [dict(state)]")
    for step in plan.steps:
        call = f"{plan.module_alias}.{step.name}({', '.join(step.params)})"
        if step.is_async:
            call = f"asyncio.run({call})"
        has_result = step.result is not None and result_alias(step) is None
        outputs = list(step.returns) + (["_result"] if has_result else [])
        lines.append(f"{', '.join(outputs)} = {call}" if outputs else call)
        lines += [f"state[{literal(n)}] = {n}" for n in step.returns]
        lines.append("states.append(dict(state))")
    lines.append("return states")
    body = "\n".join("    " + line for line in lines)
    imports = "    import asyncio\n\n" if plan.is_async else ""
    return (
        '@pytest.fixture(scope="module")\n'
        f"def {plan.states_name}() -> list[dict[str, Any]]:\n"
        f"    {docstring('What the names hold after each step, with the notebook parameters.')}\n"
        f"{imports}{body}\n"
    )


def _test_cell(test: TestCell, plan: Plan) -> str:
    states, module = plan.states_name, plan.module_alias
    unpack = [
        cst.parse_statement(f"{name} = {states}[{test.steps_done}][{literal(name)}]")
        for name in test.state_names
    ]
    unpack += [cst.parse_statement(f"{name} = {module}.{name}") for name in test.module_names]
    doc = cst.SimpleStatementLine(
        [cst.Expr(cst.SimpleString(docstring(f"Test cell {test.cell} of the notebook.")))]
    )
    body = [doc, *unpack, *test.body] if test.body else [doc, cst.SimpleStatementLine([cst.Pass()])]
    function = cst.FunctionDef(
        name=cst.Name(f"test_cell_{test.cell}"),
        params=cst.Parameters(
            params=[
                cst.Param(
                    cst.Name(states),
                    annotation=cst.Annotation(cst.parse_expression("list[dict[str, Any]]")),
                )
            ]
        ),
        body=cst.IndentedBlock(body=body),
        returns=cst.Annotation(cst.Name("None")),
    )
    return code(function)
