"""The formatting process a build runs with, and what a process keeps between builds."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nb2prod import batch, build
from nb2prod.caching import store
from nb2prod.caching.memo import Recent
from nb2prod.cli import app
from nb2prod.options import BuildOptions, RunOptions
from nb2prod.output import formatting

from notebooks import write_notebook

CELLS = [
    "parameters: n = 3",
    "deploy: def double(rows):\n    return [r * 2 for r in rows]",
    "deploy: rows = double(list(range(n)))",
    "deploy: total = sum(rows)\ntotal",
]


def test_recent_answers_what_it_computed_and_drops_the_least_recently_used() -> None:
    computed: list[str] = []

    def upper(texts: list[str]) -> list[str | None]:
        computed.extend(texts)
        return [None if text == "skip" else text.upper() for text in texts]

    recent = Recent(budget=12)  # three entries of two 2-letter texts
    remembered = recent.wrap(upper)
    assert remembered(["aa", "bb", "aa", "skip"]) == ["AA", "BB", "AA", None]
    assert computed == ["aa", "bb", "skip"]
    computed.clear()
    assert remembered(["aa", "cc"]) == ["AA", "CC"]  # aa used again: bb is now the oldest
    assert computed == ["cc"]
    remembered(["dd"])
    assert list(recent.kept) == ["aa", "cc", "dd"] and recent.size == 12
    computed.clear()
    assert remembered(["bb", "skip"]) == ["BB", None]
    assert computed == ["bb", "skip"], "bb was dropped, and a None result is never kept"
    assert "aa" not in recent.kept


def test_a_folder_build_s_process_formats_a_section_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "_RECENT", [])
    monkeypatch.setattr(formatting, "_SHARED", [])
    batch._one_per_core()
    assert build._RECENT and formatting._SHARED
    notebook = write_notebook(tmp_path / "sums_deploy.ipynb", CELLS)
    options, run = BuildOptions(out=tmp_path / "a"), RunOptions(cache=False)
    first = build.build_notebook(notebook, options, run)
    assert first.status is build.Status.WRITTEN, first.messages
    monkeypatch.setattr(formatting, "_black", lambda text: pytest.fail("formatted again"))
    again = build.build_notebook(notebook, BuildOptions(out=tmp_path / "b"), run)
    assert again.status is build.Status.WRITTEN, again.messages
    written = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.py"))
    for rel in written:
        assert (tmp_path / "a" / rel).read_text() == (tmp_path / "b" / rel).read_text()


def test_one_formatting_process_serves_builds_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formatting, "_cores", lambda: 2)
    monkeypatch.setattr(formatting, "starts_at_once", lambda: True)
    pools: list[object] = []
    first = formatting.Worker.first

    def counted(self: formatting.Worker, task: Any) -> Any:
        had = self.pool
        answer = first(self, task)
        if self.pool is not None and had is None:
            pools.append(self.pool)
        return answer

    monkeypatch.setattr(formatting.Worker, "first", counted)
    notebooks = [write_notebook(tmp_path / f"n{i}_deploy.ipynb", CELLS) for i in range(3)]
    results = batch.build_all(
        notebooks, BuildOptions(out=tmp_path / "out"), RunOptions(cache=False)
    )
    assert [r.status for r in results] == [build.Status.WRITTEN] * 3
    assert len(pools) == 1


def test_without_a_fork_a_large_notebook_still_gets_its_own_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the early worker cannot fork (other threads running), the build does not hand on
    a worker without a process: render_package starts one for a notebook of 100 cells."""
    monkeypatch.setattr(formatting, "starts_at_once", lambda: False)
    given: list[object] = []
    own = build._own_worker

    def spied(worker: formatting.Worker | None, cells: int):  # type: ignore[no-untyped-def]
        given.append(worker)
        return own(worker, cells)

    monkeypatch.setattr(build, "_own_worker", spied)
    cells = ["parameters: n = 3", *(f"deploy: x{i} = n + {i}" for i in range(120))]
    notebook = write_notebook(tmp_path / "wide_deploy.ipynb", cells)
    result = build.build_notebook(
        notebook, BuildOptions(out=tmp_path / "out"), RunOptions(cache=False)
    )
    assert result.status is build.Status.WRITTEN, result.messages
    assert given == [None]


def test_an_out_that_cannot_be_a_folder_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "sums_deploy.ipynb", CELLS)
    os.symlink("loop_b", "loop_a")
    os.symlink("loop_a", "loop_b")
    for out in ("loop_a/x", "x" * 300 + "/y"):
        result = CliRunner().invoke(app, ["build", "sums_deploy.ipynb", "--out", out])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "cannot be used as a folder" in " ".join(result.stderr.split())


def test_only_the_libraries_that_parse_and_format_key_every_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def keys() -> tuple[str, str]:
        store.code_version.cache_clear()
        store.installed.cache_clear()
        return store.code_version(), store.installed()

    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    try:
        before = keys()
        (tmp_path / "somebody_else-1.0.dist-info").mkdir()
        other = keys()
        assert other[0] == before[0], "an unrelated install keeps every cell's, step's and chunk's"
        assert other[1] != before[1], "the whole result's key sees every install"
        (tmp_path / "black-99.0.dist-info").mkdir()
        assert keys()[0] != other[0], "a black found first on the path is another black"
        (tmp_path / "black-99.0.dist-info").rmdir()
        (tmp_path / "somebody_else-1.0.dist-info").rmdir()
        elsewhere = tmp_path / "a project"
        elsewhere.mkdir()
        sys.path.insert(0, str(elsewhere))
        assert keys() == before, "a folder on the path with no distribution changes no key"
    finally:
        monkeypatch.undo()
        keys()


def test_the_schema_check_in_the_second_process_answers_as_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import copy
    import json

    from nb2prod.notebook.reader import valid_as_saved

    from notebooks import make_notebook

    good = json.loads(json.dumps(make_notebook(CELLS)))
    bad = copy.deepcopy(good)
    bad["cells"][0]["outputs"] = "not a list"  # what the schema refuses and nb2prod reads not
    monkeypatch.setattr(formatting, "_cores", lambda: 2)
    with formatting.Worker() as worker:
        valid = build._checked_meanwhile(worker)
        assert valid is not None
        assert (valid(good), valid(bad)) == (valid_as_saved(good), valid_as_saved(bad))
        assert (valid(good), valid(bad)) == (True, False)
    assert valid(good) and not valid(bad), "a process shut down: the check runs here"
    here = build._checked_meanwhile(formatting.Worker(enabled=False))
    assert here(good) and not here(bad), "no process: the check runs here"


def test_the_schema_check_is_the_new_process_s_first_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started by the check, the process runs it before importing black: the build waits for
    the check, not for black."""
    monkeypatch.setattr(formatting, "_cores", lambda: 2)
    with formatting.Worker(later=True) as worker:
        assert worker.pool is None
        answer = worker.first(gc.get_freeze_count)
        assert answer is not None and answer.result() == 0, "black's import is not done yet"
        later = worker.first(gc.get_freeze_count)
        assert later is not None and later.result() > 0, "now it is, and frozen"


def test_a_notebook_to_repair_gets_its_warning_with_the_second_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from notebooks import make_notebook

    node = json.loads(json.dumps(make_notebook(["md: # Sums", *CELLS])))
    node["cells"][0]["outputs"] = []  # a markdown cell with outputs: Jupyter opens it
    notebook = tmp_path / "sums_deploy.ipynb"
    notebook.write_text(json.dumps(node))
    monkeypatch.setattr(formatting, "_cores", lambda: 2)
    monkeypatch.setattr(formatting, "starts_at_once", lambda: True)
    run = RunOptions(cache=False)
    result = build.build_notebook(notebook, BuildOptions(out=tmp_path / "out"), run)
    assert result.status is build.Status.WRITTEN
    assert any("does not follow the notebook format" in m for m in result.messages), result.messages


def test_builds_go_on_when_the_formatting_process_dies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    monkeypatch.setattr(formatting, "_cores", lambda: 2)
    with formatting.Worker() as worker:
        assert worker.pool is not None
        os.kill(worker.pool.submit(os.getpid).result(), signal.SIGKILL)
        notebook = write_notebook(tmp_path / "sums_deploy.ipynb", CELLS)
        run = RunOptions(cache=False)
        for out in ("a", "b"):
            result = build.build_notebook(notebook, BuildOptions(out=tmp_path / out), run, worker)
            assert result.status is build.Status.WRITTEN, result.messages
        assert worker.pool is None and not worker.enabled
