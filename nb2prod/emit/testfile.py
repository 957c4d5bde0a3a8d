"""`tests/test_<package>.py`: exports and signature, test cells, smoke and golden tests of run().

The tests share one run of the pipeline with the notebook's parameters, a session fixture that
watches each step as run() calls it, so that test cells can read what the names held after it.
Every test, that run included, works in the notebook's folder, where its relative paths lead.
With serve cells, `serving_tests` adds one train() per session and the tests of the service.
"""

from __future__ import annotations

import libcst as cst

from nb2prod.emit import Target, golden, serving_tests
from nb2prod.emit.module import result_alias
from nb2prod.emit.package import exported_definitions
from nb2prod.emit.text import code, docstring, join_sections, literal
from nb2prod.lift import Plan, Step, TestCell, module_names_read


def render(plan: Plan, target: Target) -> str:
    """The source of the generated test module, before formatting."""
    pkg = target.package
    module_doc = docstring(f"Tests generated from {target.source}: run them with pytest.")
    imports = (
        "import contextlib\nimport inspect\nfrom collections.abc import Iterator\n"
        "from pathlib import Path\nfrom typing import Any, NamedTuple\n\nimport pytest\n\n"
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
        _shared_run(plan),
        _signature_test(plan),
        _smoke_test(plan),
        golden.render(plan),
        *(_test_cell(test, plan) for test in plan.tests),
        serving_tests.render(plan, target),
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
    return f"""def test_steps_run_apart_through_a_store(
    {plan.run_fixture}: PipelineRun, tmp_path: Path
) -> None:
    {doc}
    import json

    from {target.package}.runtime import Store, dumps
    from {target.package}.steps import {pipeline}

    store = Store(str(tmp_path / "store"))
    {pipeline}.run_all(store, "test")
    assert store.read_result("test") == json.loads(dumps({plan.run_fixture}.result))
"""


def _api_tests(plan: Plan, target: Target) -> str:
    """With --api, the tests of the web API."""
    if not target.api:
        return ""
    from nb2prod.emit import api_tests

    return api_tests.render(plan, target)


def _default_names(plan: Plan) -> list[str]:
    """Module names (imports, defs) that the parameters' defaults read, for the shared run."""
    return list(module_names_read(plan.parameters))


def _notebook_folder(target: Target) -> str:
    folder = literal(target.notebook_dir_from_tests)
    return f'''NOTEBOOK_DIR = Path(__file__).parent / {folder}


@contextlib.contextmanager
def notebook_folder() -> Iterator[None]:
    """Work where the notebook ran, so that its relative data paths work."""
    with pytest.MonkeyPatch.context() as patch:
        if NOTEBOOK_DIR.is_dir():
            patch.chdir(NOTEBOOK_DIR)
        yield


@pytest.fixture(autouse=True)
def in_notebook_folder() -> Iterator[None]:
    """Every test runs in the notebook's folder."""
    with notebook_folder():
        yield
'''


def _shared_run(plan: Plan) -> str:
    """The session fixture: one run() with the notebook's parameters, each step watched."""
    steps = "".join(f"    {_watch_entry(step)},\n" for step in plan.steps)
    module = plan.module_alias
    return f'''{_notebook_parameters(plan)}

# Each step run() calls: its name, the names it returns, and whether it returns a tuple.
STEPS = (
{steps})


class PipelineRun(NamedTuple):
    """One run of the pipeline: what run() returned, and what the names held after each step."""

    result: Any
    states: list[dict[str, Any]]


{_watcher(plan)}

@pytest.fixture(scope="session")
def {plan.run_fixture}() -> PipelineRun:
    {RUN_DOC}
    parameters = notebook_parameters()
    state = dict(parameters)
    states = [dict(state)]
    with pytest.MonkeyPatch.context() as patch, notebook_folder():
        for name, outputs, as_tuple in STEPS:
            step = _watched(getattr({module}, name), outputs, as_tuple, state, states)
            patch.setattr({module}, name, step)
        result = {module}.run(**parameters)
    return PipelineRun(result, states)
'''


RUN_DOC = '''"""run() with the notebook's parameters, once for the whole test session.

    The smoke, golden and test-cell tests share it; a test that needs other parameters calls
    run() itself. Each step is watched as run() calls it, to record what the names hold after it.
    """'''


def _notebook_parameters(plan: Plan) -> str:
    """The parameters cell's values, made afresh; a default may read the ones before it."""
    lines = [f"{p.name} = {p.default}" for p in plan.parameters]
    given = ", ".join(f"{literal(p.name)}: {p.name}" for p in plan.parameters)
    lines.append(f"return {{{given}}}")
    body = "\n".join("    " + line for line in lines)
    doc = docstring("The values of the notebook's parameters cell, as run() takes them.")
    return f"def notebook_parameters() -> dict[str, Any]:\n    {doc}\n{body}\n"


def _watch_entry(step: Step) -> str:
    has_result = step.result is not None and result_alias(step) is None
    as_tuple = len(step.returns) + has_result > 1
    return f"({literal(step.name)}, {tuple(step.returns)!r}, {as_tuple})"


def _watcher(plan: Plan) -> str:
    """`_watched(step, ...)`: the step, recording what it returns; async steps stay async."""
    if plan.is_async:
        call = (
            "    if inspect.iscoroutinefunction(step):\n\n"
            "        async def watched_async(*args: Any) -> Any:\n"
            "            return record(await step(*args))\n\n"
            "        return watched_async\n\n"
        )
    else:
        call = ""
    return f'''def _watched(
    step: Any, outputs: tuple[str, ...], as_tuple: bool, state: dict[str, Any], states: list[Any]
) -> Any:
    """`step`, which also puts the names it returns in `state` and a copy of it in `states`."""

    def record(returned: Any) -> Any:
        state.update(zip(outputs, returned if as_tuple else (returned,)))
        states.append(dict(state))
        return returned

{call}    def watched(*args: Any) -> Any:
        return record(step(*args))

    return watched
'''


def _signature_test(plan: Plan) -> str:
    package, module = plan.package_alias, plan.module_alias
    names = [p.name for p in plan.parameters]
    lines = [
        f"signature = inspect.signature({module}.run).parameters",
        f"assert list(signature) == {names!r}",
    ]
    for p in plan.parameters:
        expected = p.default if p.inline else "None"
        compare = "is" if expected in {"None", "True", "False"} else "=="
        lines.append(f"assert signature[{literal(p.name)}].default {compare} {expected}")
    for step in plan.steps:
        lines.append(f"assert callable({package}.{step.name})")
    for name in exported_definitions(plan):
        lines.append(f"assert {package}.{name} is {module}.{name}")
    lines.append(f"assert {package}.run is {module}.run")
    body = "\n".join("    " + line for line in lines)
    doc = '"""The package exports run(), its steps and the notebook\'s functions and classes."""'
    return f"def test_imports_and_signature() -> None:\n    {doc}\n{body}\n"


def _smoke_test(plan: Plan) -> str:
    fixture = plan.run_fixture
    return (
        f"def test_run_with_notebook_parameters({fixture}: PipelineRun) -> None:\n"
        '    """run() completes with the notebook\'s own parameters, calling each step once."""\n'
        f"    assert len({fixture}.states) == 1 + len(STEPS)\n"
    )


def _test_cell(test: TestCell, plan: Plan) -> str:
    fixture, module = plan.run_fixture, plan.module_alias
    unpack = [
        cst.parse_statement(f"{name} = {fixture}.states[{test.steps_done}][{literal(name)}]")
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
                cst.Param(cst.Name(fixture), annotation=cst.Annotation(cst.Name("PipelineRun")))
            ]
        ),
        body=cst.IndentedBlock(body=body),
        returns=cst.Annotation(cst.Name("None")),
    )
    return code(function)
