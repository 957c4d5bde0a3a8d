"""Build Kale's own example notebooks, and run those whose imports are installed here.

Kale (kubeflow-kale/kale) keeps its examples in `examples/`; they are not part of this
repository, so this is a check to run by hand, not a test:

    python benchmarks/kale_examples.py PATH/TO/kale/examples

Each notebook Kale turns into a pipeline is built with nb2prod's command line (Kale's tags are
read as they are). A built package passes when every module compiles; one whose imports are all
installed is then run as Kale's notebooks are run, from the notebook's folder, after its own
generated tests. It prints one line per notebook and exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

NB2PROD = Path(sys.executable).parent / "nb2prod"

# Every example notebook that Kale turns into a pipeline (read_data.ipynb has no Kale tags).
PIPELINES = (
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
)


def package_of(example: str) -> str:
    stem = example.removesuffix(".ipynb").replace("/", "_").replace("-", "_").lower()
    return f"kale_{stem}"


def missing_imports(pipeline: Path) -> list[str]:
    """The top-level modules the pipeline imports, anywhere in it, that are not installed."""
    tree = ast.parse(pipeline.read_text())
    nodes = list(ast.walk(tree))
    names = {a.name for node in nodes if isinstance(node, ast.Import) for a in node.names}
    names |= {
        node.module
        for node in nodes
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
    }
    tops = sorted({name.split(".")[0] for name in names})
    return [top for top in tops if importlib.util.find_spec(top) is None]


def check(examples: Path, example: str, out: Path) -> tuple[bool, str]:
    """Whether the example passes, and what happened, in a few words."""
    package = package_of(example)
    built = subprocess.run(
        [
            str(NB2PROD),
            "build",
            str(examples / example),
            "--out",
            str(out),
            "--name",
            package,
            "--no-cache",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        return False, "refused: " + (built.stderr.strip().splitlines() or ["?"])[-1]
    project = out / package
    for path in project.rglob("*.py"):
        try:
            compile(path.read_text(), str(path), "exec")
        except SyntaxError as exc:
            return False, f"built; {path.relative_to(project)} does not compile: {exc}"
    missing = missing_imports(project / package / "pipeline.py")
    if missing:
        return True, f"built; not run (needs {', '.join(missing)})"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), *sys.path[1:]])}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if tests.returncode != 0:
        return False, "built; its generated tests fail:\n" + tests.stdout[-2000:]
    ran = subprocess.run(
        [sys.executable, "-m", package],
        cwd=(examples / example).parent,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if ran.returncode != 0:
        return False, "built; run failed: " + ran.stderr[-2000:]
    return True, "built, tested and run"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=Path, help="the examples/ folder of a Kale checkout")
    args = parser.parse_args(argv)
    if not args.examples.is_dir():
        parser.error(f"{args.examples}: no such folder")
    failed = 0
    with tempfile.TemporaryDirectory() as out:
        for example in PIPELINES:
            passed, what = check(args.examples, example, Path(out))
            failed += not passed
            print(f"{'ok  ' if passed else 'FAIL'} {example}: {what}")
    print(f"{len(PIPELINES) - failed} of {len(PIPELINES)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
