"""Shared fixtures: golden updates, building notebooks into temporary folders, loading modules."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

from nb2prod.build import BuildResult, build_notebook
from nb2prod.options import BuildOptions, RunOptions
from nb2prod.output.writer import without_header

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "input.ipynb").exists())
WORKING_CASES = [c for c in CASES if not (FIXTURES / c / "expected_error.txt").exists()]
# nb2prod's runtime module, shipped into every package as it is: compared with its source
# rather than kept with each case's expected files.
RUNTIME = ROOT / "nb2prod" / "runtime.py"


def generated_files(project: Path) -> dict[str, str]:
    """A generated project's files by path, after checking that its `runtime.py` is nb2prod's
    runtime module as it is; that module is left out."""
    files = {
        p.relative_to(project).as_posix(): p.read_text() for p in project.rglob("*") if p.is_file()
    }
    shipped = [rel for rel in files if rel.endswith("/runtime.py") and rel.count("/") == 1]
    assert len(shipped) == 1, sorted(files)
    assert without_header(files.pop(shipped[0])) == RUNTIME.read_text()
    return files


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite fixtures/*/expected* from the current output; review the diff.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _session_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Builds in tests share a cache folder of their own, never the user's."""
    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "nb2prod-cache"))


def build(notebook: Path, out: Path, **options: object) -> BuildResult:
    """Build a notebook with the project root as the root for relative paths."""
    return build_notebook(notebook, *split_options(out=out, root=ROOT, **options))


def split_options(**options: object) -> tuple[BuildOptions, RunOptions]:
    """Keyword options divided between the build's options and how the build runs."""
    build_fields = set(BuildOptions.__dataclass_fields__)
    built = {k: v for k, v in options.items() if k in build_fields}
    run = {k: v for k, v in options.items() if k not in build_fields}
    return BuildOptions(**built), RunOptions(**run)  # type: ignore[arg-type]


class MemoryCache:
    """A cache in a dict, to look at what a build keeps."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], bytes] = {}

    def get(self, kind: str, key: str) -> bytes | None:
        return self.entries.get((kind, key))

    def put(self, kind: str, key: str, payload: bytes) -> None:
        self.entries[kind, key] = payload


@contextmanager
def load_package(project: Path, package: str) -> Iterator[ModuleType]:
    """Import a generated package's pipeline module; unload it and its path afterwards."""
    _unload(package)
    sys.path.insert(0, str(project))
    try:
        yield importlib.import_module(f"{package}.pipeline")
    finally:
        sys.path.remove(str(project))
        _unload(package)


def run_generated_tests(project: Path) -> subprocess.CompletedProcess[str]:
    """Run a generated project's own tests with pytest, in its folder."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def _unload(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]
