"""Rebuilds from the per-cell cache: the same output as a cold build, and only changed cells parsed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2prod.analysis import facts
from nb2prod.analysis.facts import Found, examine
from nb2prod.build import Status, build_notebook
from nb2prod.caching.codec import decode, encode
from nb2prod.caching.memo import Memo
from nb2prod.caching.store import FileCache, Pack, pack, unpack

from conftest import (
    FIXTURES,
    WORKING_CASES,
    MemoryCache,
    build,
    generated_files,
    split_options,
)
from notebooks import write_notebook
from test_golden import options

CELLS = [
    "parameters: n = 4",
    "md: ## Load",
    "deploy: import math\nrows = list(range(n))",
    "deploy: LIMIT = 3\n\n\ndef capped(v):\n    return min(v, LIMIT)",
    "md: ## Shape",
    "deploy: shaped = [capped(r) for r in rows]",
    "deploy: # spread\nspread = max(shaped) - min(shaped)",
    "md: ## Report",
    "deploy: total = math.fsum(shaped)",
    "deploy: {'total': total, 'spread': spread}",
]


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()
    }


def _edit(notebook: Path, number: int, text: str) -> None:
    """Replace the source of code cell `number` (counted from 1 among all cells)."""
    data = json.loads(notebook.read_text())
    data["cells"][number - 1]["source"] = text
    notebook.write_text(json.dumps(data))


def _middle_deploy_cell(data: dict[str, object]) -> int | None:
    cells = data["cells"]
    assert isinstance(cells, list)
    deploy = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and c["source"]]
    return deploy[len(deploy) // 2] if len(deploy) > 2 else None


@pytest.mark.parametrize("case", WORKING_CASES)
def test_a_rebuild_after_an_edit_matches_the_golden_files(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build an edited copy of a fixture, then the fixture itself with what that left in the
    cache: the unchanged cells come from the cache, the edited one is parsed again, and the
    output is still the golden one."""
    root = tmp_path / "root"  # laid out as the project is, so that the output is comparable
    notebook = Path("fixtures", case, "input.ipynb")
    (root / notebook).parent.mkdir(parents=True)
    original = (FIXTURES / case / "input.ipynb").read_bytes()
    data = json.loads(original)
    middle = _middle_deploy_cell(data)
    if middle is not None:
        source = "".join(data["cells"][middle]["source"])
        data["cells"][middle]["source"] = source + "\n# edited\n_edited = 1\n"
    (root / notebook).write_text(json.dumps(data))
    monkeypatch.chdir(root)
    settings = {"name": case, "cache_dir": tmp_path / "cache", **options(FIXTURES / case)}
    edited = build_notebook(
        notebook, *split_options(out=Path("build", "edited"), root=root, **settings)
    )
    assert edited.ok, edited.messages
    (root / notebook).write_bytes(original)
    result = build_notebook(
        notebook, *split_options(out=Path("build", "again"), root=root, **settings)
    )
    assert result.status is Status.WRITTEN, result.messages
    assert (
        "".join(m + "\n" for m in result.messages) == (FIXTURES / case / "messages.txt").read_text()
    )
    assert generated_files(root / "build" / "again" / case) == _files(FIXTURES / case / "expected")


def test_only_the_edited_step_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = write_notebook(tmp_path / "edited_deploy.ipynb", CELLS)
    cache = tmp_path / "cache"
    assert build(notebook, tmp_path / "out", cache_dir=cache).status is Status.WRITTEN
    _edit(notebook, 6, "shaped = [capped(r) + 1 for r in rows]")
    parsed: list[str] = []
    real = facts.parse_cell

    def counting(code: str) -> object:
        parsed.append(code)
        return real(code)

    monkeypatch.setattr(facts, "parse_cell", counting)
    assert build(notebook, tmp_path / "out", cache_dir=cache).status is Status.WRITTEN
    # The edited cell, the other cell of its step (emitted anew), and the cells the lift
    # always reads whole: the parameters and the last deploy cell, whose value is the result.
    assert sorted(parsed) == sorted(
        [
            "shaped = [capped(r) + 1 for r in rows]",
            "# spread\nspread = max(shaped) - min(shaped)",
            "n = 4",
            "{'total': total, 'spread': spread}",
        ]
    )
    cold = build(notebook, tmp_path / "cold", cache=False)
    assert _files(tmp_path / "out") == _files(tmp_path / "cold")
    assert cold.messages == ()


def test_a_damaged_pack_is_ignored_and_rewritten(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "damaged_deploy.ipynb", CELLS)
    cache = tmp_path / "cache"
    build(notebook, tmp_path / "out", cache_dir=cache)
    (entry,) = [p for p in (cache / "pack").rglob("*") if p.is_file()]
    entry.write_bytes(entry.read_bytes()[:100])
    _edit(notebook, 9, "total = sum(shaped)")
    assert build(notebook, tmp_path / "out", cache_dir=cache).status is Status.WRITTEN
    build(notebook, tmp_path / "cold", cache=False)
    assert _files(tmp_path / "out") == _files(tmp_path / "cold")
    store = FileCache(cache)
    assert unpack(store.get("pack", entry.name) or b""), "the pack was written again"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"no header line", id="no line break"),
        pytest.param(b"cell k 5\nab", id="shorter than it says"),
        pytest.param(b"cell k -1\n", id="negative length"),
        pytest.param(b"cell k\nab", id="a field missing"),
        pytest.param(b"cell k x\nab", id="length not a number"),
        pytest.param(b"cell \xff 2\nab", id="a header not UTF-8"),
    ],
)
def test_a_pack_that_is_not_what_pack_wrote_is_empty(data: bytes) -> None:
    assert unpack(data) == {}


def test_a_pack_keeps_what_the_build_used(tmp_path: Path) -> None:
    store = FileCache(tmp_path)
    store.put("pack", "p", pack({("cell", "a"): b"1", ("cell", "b"): b"22"}))
    first = Pack(store, "p")
    assert first.get("cell", "a") == b"1"
    first.put("step", "c", b"333")
    first.save()
    assert unpack(store.get("pack", "p") or b"") == {("cell", "a"): b"1", ("step", "c"): b"333"}


def test_facts_come_back_from_the_cache_as_they_were_gathered() -> None:
    source = (
        "%matplotlib inline\n"
        "import os, sys as system; from IPython.display import display, HTML\n"
        "LIMIT: int = 3\n"
        "# a helper\n\n"
        "def f(x):\n    global seen\n    seen = x\n    return x + LIMIT\n"
        "try:\n    del gone\nexcept NameError as e:\n    pass\n"
        "rows[0] = await fetch()\nrows;"
    )
    gathered = examine(source, strict=True)
    assert gathered.parsed is not None and gathered.facts is not None
    assert [note.line for note in gathered.notes] == [1]
    found = decode(Found, encode(gathered))
    assert found.parsed is None, "a cell found in the cache is not parsed"
    assert (found.code, found.notes, found.facts) == (
        gathered.code,
        gathered.notes,
        gathered.facts,
    )


def _examiner(calls: list[str]) -> object:
    def compute(sources: list[str]) -> list[Found]:
        calls.extend(sources)
        return [examine(source, strict=False) for source in sources]

    return compute


def test_a_damaged_entry_is_computed_again() -> None:
    store = MemoryCache()
    calls: list[str] = []
    memo = Memo(Pack(store, "p"))
    first = memo.wrap("cell", _examiner(calls), digest=str, kind=Found)(["x = 1"])  # type: ignore[arg-type]
    memo.save()
    damaged = {entry: b'["x = 1", [], [' for entry in unpack(store.get("pack", "p") or b"")}
    store.put("pack", "p", pack(damaged))
    again = Memo(Pack(store, "p"))
    found = again.wrap("cell", _examiner(calls), digest=str, kind=Found)(["x = 1"])  # type: ignore[arg-type]
    assert calls == ["x = 1", "x = 1"]
    assert found == first


def test_exploration_code_that_does_not_parse_is_remembered() -> None:
    store = MemoryCache()
    calls: list[str] = []
    for _ in range(2):
        memo = Memo(Pack(store, "p"))
        found = memo.wrap("cell", _examiner(calls), digest=str, kind=Found)(["x = ("])  # type: ignore[arg-type]
        memo.save()
        assert found[0] is not None and found[0].facts is None
    assert calls == ["x = ("], "the second build found it kept"
    with pytest.raises(facts.NotebookError, match="syntax error"):
        examine("x = (", strict=True)


def test_a_build_leaves_the_collector_as_it_found_it(tmp_path: Path) -> None:
    import gc

    notebook = write_notebook(tmp_path / "collector_deploy.ipynb", CELLS)
    assert build(notebook, tmp_path / "out", cache=False).status is Status.WRITTEN
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0, "what the build froze is handed back to the collector"
    _edit(notebook, 3, "rows = [")
    assert build(notebook, tmp_path / "out", cache=False).status is Status.FAILED
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_keys_change_with_python_and_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    from nb2prod.caching import store as cache_module

    before = cache_module.code_version()
    monkeypatch.setattr(cache_module.sys, "version", "3.99.0 (elsewhere)")
    cache_module.code_version.cache_clear()
    try:
        assert cache_module.code_version() != before
    finally:
        cache_module.code_version.cache_clear()
