"""Generated names never collide with the notebook's own: run(), the tests and the CLI work."""

from __future__ import annotations

import importlib
from pathlib import Path

from typer.testing import CliRunner

from nb2prod.build import Status

from conftest import build, load_package, run_generated_tests
from notebooks import write_notebook

CELLS = [
    "parameters: main = 2\napp = 'svc'",
    "deploy: def run(x):\n    return x * main\n\n\nclass pipeline:\n    size = 3\n\n\n"
    "package = [run(1), run(2)]\nresult = sum(package)\npipeline_run = pipeline.size",
    "test: assert result == 3 * main\nassert run(5) == 5 * main",
    "deploy: (app, result, pipeline_run, run(10))",
]


def test_notebook_defining_generated_names(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "names_deploy.ipynb", CELLS)
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    project = tmp_path / "out" / "names_deploy"
    with load_package(project, "names_deploy") as pipeline:
        assert pipeline.run() == ("svc", 6, 3, 20)
        assert pipeline.run(main=3, app="x") == ("x", 9, 3, 30)
        cli = importlib.import_module("names_deploy.__main__")
        done = CliRunner().invoke(cli.app, ["--main", "5", "--app", "api"])
        assert done.exit_code == 0, done.output
        assert done.stdout.strip() == '["api", 15, 3, 50]'
    tests = run_generated_tests(project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
