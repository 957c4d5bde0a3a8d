"""Formatting in sections: the joined result is what black gives for the whole file."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import black
import pytest

from nb2prod.analysis.selection import select
from nb2prod.caching.memo import Memo
from nb2prod.caching.store import Cache, FileCache, Pack
from nb2prod.emit import Target, emit_package
from nb2prod.emit.text import join_sections
from nb2prod.errors import NotebookError
from nb2prod.lift import lift
from nb2prod.notebook.reader import read_notebook
from nb2prod.output import formatting

from conftest import FIXTURES, ROOT, MemoryCache, build
from notebooks import write_notebook

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate import write

GOLDEN = sorted(
    p / "input.ipynb" for p in FIXTURES.iterdir() if (p / "expected_error.txt").exists() is False
)


def _package_mode() -> black.Mode:
    """black's mode where it runs in a generated package: the Python versions it infers from the
    package's `requires-python`."""
    pyproject = (FIXTURES / "plain_pipeline" / "expected" / "pyproject.toml").read_text()
    versions = black.files.infer_target_version(tomllib.loads(pyproject))
    assert versions, "the generated pyproject names the Python versions it runs on"
    return black.Mode(line_length=formatting.LINE_LENGTH, target_versions=set(versions))


def _whole(source: str) -> str:
    return black.format_str(source, mode=_package_mode())


def _sections(source: str) -> str:
    sections = formatting.split_sections(source)
    assert sections is not None
    return join_sections(*formatting.format_batch(sections))


def _memoised(store: Cache) -> tuple[Memo, formatting.ChunkFormatter]:
    memo = Memo(Pack(store, "notebook"))
    return memo, memo.wrap("chunk", formatting.formatted_chunks, digest=str, kind=str)


def _format(source: str, chunk_formatter: formatting.ChunkFormatter) -> str:
    return formatting.format_files({"m.py": source}, format_chunks=chunk_formatter)["m.py"]


def _generated(notebook: Path) -> dict[str, str]:
    plan = lift(select(read_notebook(notebook)))
    files = emit_package(
        plan, Target("pkg", notebook.name, "..", api=True, airflow=bool(plan.steps))
    )
    return {rel: text for rel, text in files.items() if rel.endswith(".py")}


@pytest.mark.parametrize("notebook", GOLDEN, ids=lambda p: p.parent.name)
def test_sections_format_like_the_whole_file_on_golden_cases(notebook: Path) -> None:
    for rel, source in _generated(notebook).items():
        assert _sections(source) == _whole(source), rel


@pytest.mark.parametrize("cells", [50, 200])
def test_sections_format_like_the_whole_file_on_benchmark_notebooks(
    cells: int, tmp_path: Path
) -> None:
    source = _generated(write(tmp_path, cells))["pkg/pipeline.py"]
    assert len(formatting.split_sections(source) or []) > 10
    assert _sections(source) == _whole(source)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            '"""Doc."""\nimport os\nx = 1\n# cell 3\ndef f(a):\n  return a\n\ny = f(x)\n',
            id="comment glued to the def above stays with the code before it",
        ),
        pytest.param(
            "def f():\n    pass\n\n\n# --- a part\n\n# what x is\nx = 1\n",
            id="a comment a blank line above the next statement's comments",
        ),
        pytest.param(
            "# fmt: off\ndef f(a,b):\n    return [1,2,\n            3]\n\ndef g( x ):\n"
            "    return   x\n# fmt: on\ny  =  1\n",
            id="code black leaves as written, across sections",
        ),
        pytest.param(
            "def f(a,b):  # fmt: skip\n    return a\ny  =  [1,2]  # fmt: skip\n",
            id="a line black leaves as written",
        ),
        pytest.param(
            "import os\n\n\n# cell 2\n# more\n@decorate\ndef f():\n    pass\nz = [1,\n2]\n",
            id="decorators and the comments right above go with their def",
        ),
        pytest.param(
            "class A:\n    x = 1\n\nclass B(A):\n  pass\n\n\n\n\nprint( A, B )\n",
            id="classes and too many blank lines",
        ),
        pytest.param(
            "from typing import overload\n\n@overload\ndef f(a: int) -> int: ...\n"
            "@overload\ndef f(a: str) -> str: ...\ndef f(a):\n    return a\n",
            id="overload stubs are not cut apart",
        ),
        pytest.param(
            's = """\n# not a comment\n"""\n\ndef g():\n    return s\n',
            id="a string line that looks like a comment",
        ),
        pytest.param(
            "def f(\n    a,\n    b,\n):\n    return (a,\n b)\n\n\nasync def g():\n    await f(1,2)\n",
            id="magic trailing commas and async defs",
        ),
    ],
)
def test_sections_format_like_the_whole_file(source: str) -> None:
    assert _sections(source) == _whole(source)


def test_small_and_large_modules_are_formatted_in_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Black's second pass then runs only over the sections whose first pass needs one."""
    calls: list[str] = []
    original = formatting._black
    monkeypatch.setattr(formatting, "_black", lambda s: calls.append(s) or original(s))
    small = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    assert formatting.format_python(small) == _whole(small)
    assert calls == ["def f():\n    return 1\n", "def g():\n    return 2\n"]
    calls.clear()
    large = small + "".join(f"\n\ndef h{i}():\n    return {i}\n" for i in range(60))
    assert formatting.format_python(large) == _whole(large)
    assert len(calls) == 62


@pytest.mark.parametrize("cells", [50, 200])
def test_chunks_from_the_cache_format_like_the_whole_file(
    cells: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _generated(write(tmp_path, cells))["pkg/pipeline.py"]
    assert len(formatting.chunks(source)) > 5
    formatter = _memoised(MemoryCache())[1]
    assert _format(source, formatter) == _whole(source)
    monkeypatch.setattr(formatting, "_sections_of", lambda s: pytest.fail("parsed again"))
    assert _format(source, formatter) == _whole(source)
    edited = source.replace("def run(", "def run_all(x=1):\n    pass\n\n\ndef run(", 1)
    monkeypatch.undo()
    assert _format(edited, formatter) == _whole(edited)


def test_a_chunk_cut_inside_a_string_sends_the_module_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = 'TEMPLATE = """\nheader\n\n\ndef not_code( a ):\n    pass\n"""\n'
    source = text + "".join(f"\n\ndef h{i}(a,b):\n  return [a,b,{i}]\n" for i in range(80))
    assert len(formatting.chunks(source)) == 82
    assert _format(source, _memoised(MemoryCache())[1]) == _whole(source)


def test_the_second_process_gives_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    source = "".join(f"def h{i}(a,b):\n  return [a,b,{i}]\n\n" for i in range(40))
    monkeypatch.setattr(formatting, "PARALLEL_MIN_LINES", 10)
    monkeypatch.setattr(formatting, "SECTION_MIN_LINES", 10)
    assert formatting.format_python(source) == _whole(source)


def test_a_section_black_refuses_is_reported_as_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formatting, "PARALLEL_MIN_LINES", 10)
    monkeypatch.setattr(formatting, "SECTION_MIN_LINES", 10)
    source = "".join(f"def h{i}():\n    return {i}\n\n" for i in range(20))
    monkeypatch.setattr(formatting, "_sections_of", lambda s: ["def broken(:\n", source])
    with pytest.raises(NotebookError, match="this is a bug in nb2prod"):
        formatting.format_python(source)


def test_sections_come_from_the_cache_on_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = FileCache(tmp_path)
    source = "".join(f"def h{i}(a,b):\n  return [a,b,{i}]\n\n" for i in range(120))
    memo, formatter = _memoised(cache)
    first = _format(source, formatter)
    memo.save()
    monkeypatch.setattr(formatting, "_black", lambda s: pytest.fail("black ran again"))
    assert _format(source, _memoised(cache)[1]) == first


def test_with_other_threads_running_the_worker_is_spawned_not_forked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert formatting._context().get_start_method() == (
        "fork" if sys.platform == "linux" else "spawn"
    )
    source = "".join(f"def h{i}(a,b):\n  return [a,b,{i}]\n\n" for i in range(30))
    monkeypatch.setattr(formatting, "PARALLEL_MIN_LINES", 10)
    monkeypatch.setattr(formatting, "SECTION_MIN_LINES", 10)
    seen: list[str] = []

    def build_in_thread() -> None:
        seen.append(formatting._context().get_start_method())
        seen.append(formatting.format_python(source))

    thread = threading.Thread(target=build_in_thread)
    thread.start()
    thread.join()
    assert seen == ["spawn", _whole(source)]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("zero(one,).two(three,).four(five,)\n", id="magic trailing commas"),
        pytest.param(
            "if True:\n    n = db.query(Customer.id).filter(Customer.account_id == 10000,"
            " Customer.email == email_address,).count()\n",
            id="a long chain the first pass explodes",
        ),
        pytest.param(
            "assert some_type_of_boolean_expression, 'followed by a really really really long"
            " string that is used to explain the assertion error message'\n",
            id="a long line without brackets to split",
        ),
        pytest.param(
            "x = [1111111111111111111111111, 2222222222222222222222222222, "
            "33333333333333333333333333333333, 4444444444]\n",
            id="the first pass adds a trailing comma",
        ),
        pytest.param("f(a,  # why\n)\n", id="a magic comma followed by a comment"),
        pytest.param("for x in range(10): print(x) ; y = (1,)\n", id="one-line loop"),
        pytest.param("x = 1\n", id="already formatted"),
    ],
)
def test_one_pass_when_black_would_not_change_its_output_again(source: str) -> None:
    assert formatting._black(source) == _whole(source)


def test_one_core_means_no_second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formatting, "_cores", lambda: 1)
    monkeypatch.setattr(formatting, "PARALLEL_MIN_LINES", 10)
    monkeypatch.setattr(formatting, "SECTION_MIN_LINES", 10)
    with formatting.Worker() as worker:
        assert worker.pool is None
    source = "".join(f"def h{i}(a,b):\n  return [a,b,{i}]\n\n" for i in range(20))
    assert formatting.format_python(source) == _whole(source)


def _stable(text: str) -> bool:
    """Formatting with black's public API again changes nothing (black's assert_stable)."""
    return _whole(text) == text


@pytest.mark.parametrize("notebook", GOLDEN, ids=lambda p: p.parent.name)
def test_formatting_twice_changes_nothing_on_golden_cases(notebook: Path) -> None:
    for path in sorted((notebook.parent / "expected").rglob("*.py")):
        body = path.read_text().split("\n", 3)[3]  # the text under the header
        assert _stable(body), path


@pytest.mark.parametrize("cells", [50, 200])
def test_formatting_twice_changes_nothing_on_benchmark_notebooks(
    cells: int, tmp_path: Path
) -> None:
    for rel, source in _generated(write(tmp_path, cells)).items():
        assert _stable(formatting.format_python(source)), rel


def test_black_run_in_the_generated_package_changes_nothing(tmp_path: Path) -> None:
    """black, run with the package's own pyproject, formats for the versions it declares: a
    with-statement of several managers gets parentheses and a split `**kwargs` a comma."""
    cells = [
        "deploy: def scaled(frame, column_name_to_scale, scale_factor=1.0, shift_by=0.0, "
        "**keyword_arguments_for_it):\n"
        "    return frame",
        "deploy: with open('first_file_with_a_long_name.txt') as first, open('second_file_with_a_"
        "longer_name.txt') as second:\n    text = first.read() + second.read()",
    ]
    notebook = write_notebook(tmp_path / "managers_deploy.ipynb", cells)
    assert build(notebook, tmp_path / "out").messages == ()
    package = tmp_path / "out" / "managers_deploy"
    command = [sys.executable, "-m", "black", "--check", "--config", "pyproject.toml", "."]
    env = {**os.environ, "BLACK_CACHE_DIR": str(tmp_path / "black-cache")}
    checked = subprocess.run(command, cwd=package, capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stderr
    pipeline = (package / "managers_deploy" / "pipeline.py").read_text()
    assert "**keyword_arguments_for_it,\n" in pipeline and "with (\n" in pipeline


def test_the_second_process_collects_black_s_cycles(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the collector off, the cycles of black's trees stayed: 350 MB for 20,000 lines."""
    import gc

    monkeypatch.setattr(formatting, "_cores", lambda: 2)
    with formatting.Worker() as worker:
        assert worker.pool is not None
        assert worker.pool.submit(gc.isenabled).result()
        assert worker.pool.submit(gc.get_freeze_count).result() > 0, "black's import is frozen"


def test_a_worker_with_black_loaded_takes_more_of_the_batch() -> None:
    def lines(indexes: list[int]) -> int:
        return sum(texts[i].count("\n") for i in indexes)

    texts = ["x = 1\n" * 100] * 10  # 1000 lines
    for ahead, mine in ((0, 500), (400, 300), (1000, 0)):
        here, there = formatting._halves(texts, ahead)
        assert sorted(here + there) == list(range(10))
        assert (lines(here), lines(there)) == (mine, 1000 - mine)
    texts = ["x = 1\n" * 600, *(["x = 1\n" * 50] * 8)]  # one section holds most of the module
    here, there = formatting._halves(texts)
    assert (lines(here), lines(there)) == (600, 400)
