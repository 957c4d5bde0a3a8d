"""Kale's own example notebooks (kubeflow-kale/kale, folder `examples/`) build, and run where
what they import is installed.

They are not part of this repository. Point `NB2PROD_KALE_EXAMPLES` at the `examples/` folder
of a checkout of Kale to run these tests; without it they are skipped. The `kale_tags` golden
case is a small notebook written with Kale's tags that always runs.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.build import Status
from nb2prod.naming import package_name

from conftest import build, run_generated_tests

EXAMPLES = Path(os.environ.get("NB2PROD_KALE_EXAMPLES", "")).expanduser()
pytestmark = pytest.mark.skipif(
    not os.environ.get("NB2PROD_KALE_EXAMPLES") or not EXAMPLES.is_dir(),
    reason="set NB2PROD_KALE_EXAMPLES to the examples/ folder of kubeflow-kale/kale",
)

# Every example notebook that Kale turns into a pipeline (read_data.ipynb has no Kale tags).
PIPELINES = [
    "base/candies_sharing.ipynb",
    "dog-breed-classification/dog-breed-katib.ipynb",
    "dog-breed-classification/dog-breed-v2.ipynb",
    "dog-breed-classification/dog-breed.ipynb",
    "openvaccine-kaggle-competition/open-vaccine.ipynb",
    "pytorch-classification/cifar10_classification.ipynb",
    "serving/sklearn/iris.ipynb",
    "serving/xgboost/iris.ipynb",
    "taxi-cab-classification/taxicab_pipeline.ipynb",
    "titanic-ml-dataset/titanic_dataset_ml.ipynb",
]


def _package(example: str) -> str:
    return package_name(example.removesuffix(".ipynb").replace("/", "_"))


def _built(example: str, out: Path) -> Path:
    result = build(EXAMPLES / example, out, name=_package(example), cache=False)
    assert result.status is Status.WRITTEN, result.messages
    return out / _package(example)


def _missing(pipeline: Path) -> list[str]:
    """The top-level modules the pipeline imports that are not installed here."""
    tree = ast.parse(pipeline.read_text())
    names = {
        alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names
    }
    names |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    tops = sorted({name.split(".")[0] for name in names})
    return [top for top in tops if importlib.util.find_spec(top) is None]


@pytest.mark.parametrize("example", PIPELINES)
def test_kale_example_builds(example: str, tmp_path: Path) -> None:
    project = _built(example, tmp_path)
    pipeline = project / _package(example) / "pipeline.py"
    for path in project.rglob("*.py"):
        ast.parse(path.read_text())
    assert "def run(" in pipeline.read_text()


@pytest.mark.parametrize("example", PIPELINES)
def test_kale_example_runs(example: str, tmp_path: Path) -> None:
    project = _built(example, tmp_path)
    missing = _missing(project / _package(example) / "pipeline.py")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}, not installed here")
    tests = run_generated_tests(project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    done = subprocess.run(
        [sys.executable, "-m", _package(example)],
        cwd=(EXAMPLES / example).parent,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(project), *sys.path[1:]])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
