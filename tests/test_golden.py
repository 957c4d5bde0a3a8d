"""Golden cases: each fixtures/<case>/input.ipynb against its expected files or message."""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import black
import pytest

from nb2prod.build import Status

from conftest import CASES, FIXTURES, ROOT, WORKING_CASES, build, generated_files


@pytest.fixture
def golden_out() -> Iterator[Path]:
    """An output folder at a fixed depth under the project, so that the generated tests' path
    back to the notebook is the same in every checkout and on every machine."""
    (ROOT / "build").mkdir(exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="golden-", dir=ROOT / "build"))
    yield out
    shutil.rmtree(out, ignore_errors=True)


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES)
def test_golden(
    case: str, golden_out: Path, update_golden: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    folder = FIXTURES / case
    notebook = (folder / "input.ipynb").relative_to(ROOT)
    result = build(notebook, golden_out, name=case, **options(folder))
    messages = "".join(line + "\n" for line in result.messages)
    produced = golden_out / case
    if update_golden:
        _update(folder, result.status, messages, produced)
    expected_error = folder / "expected_error.txt"
    if expected_error.exists():
        assert result.status is Status.FAILED
        assert messages == expected_error.read_text()
        assert not produced.exists(), "a failed build must write nothing"
        return
    assert result.status is Status.WRITTEN, messages
    assert messages == (folder / "messages.txt").read_text()
    expected = folder / "expected"
    expected_files = sorted(
        p.relative_to(expected).as_posix() for p in expected.rglob("*") if p.is_file()
    )
    produced_files = generated_files(produced)
    assert sorted(produced_files) == expected_files
    for rel in expected_files:
        assert produced_files[rel] == (expected / rel).read_text(), rel


@pytest.mark.parametrize("case", WORKING_CASES)
def test_output_checks_itself(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every generated file parses, is stable under black, and a rebuild changes nothing."""
    monkeypatch.chdir(ROOT)
    notebook = (FIXTURES / case / "input.ipynb").relative_to(ROOT)
    settings = options(FIXTURES / case)
    assert build(notebook, tmp_path, name=case, **settings).status is Status.WRITTEN
    for path in (tmp_path / case).rglob("*.py"):
        text = path.read_text()
        ast.parse(text)
        assert black.format_str(text, mode=black.Mode()) == text, path
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / case).rglob("*") if p.is_file()}
    assert build(notebook, tmp_path, name=case, **settings).status is Status.UNCHANGED
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / case).rglob("*") if p.is_file()}
    assert before == after


def options(folder: Path) -> dict[str, object]:
    """A case's build options (`{"api": true}`) from its optional options.json."""
    path = folder / "options.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _update(folder: Path, status: Status, messages: str, produced: Path) -> None:
    shutil.rmtree(folder / "expected", ignore_errors=True)
    for name in ("expected_error.txt", "messages.txt"):
        (folder / name).unlink(missing_ok=True)
    if status is Status.FAILED:
        (folder / "expected_error.txt").write_text(messages)
        return
    (folder / "messages.txt").write_text(messages)
    shutil.copytree(produced, folder / "expected")
    (folder / "expected" / folder.name / "runtime.py").unlink()  # compared with its source
