"""The build cache: content keys, damaged entries, concurrent writers, and builds that use it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nb2prod.build import Status
from nb2prod.caching import store as cache_module
from nb2prod.caching.store import FileCache, NoCache, key, open_cache
from nb2prod.cli import app

from conftest import build
from notebooks import write_notebook

CELLS = [
    "parameters: n = 3",
    "deploy: %matplotlib inline\nrows = list(range(n))",
    "deploy: sum(rows)",
]


def _entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_an_entry_comes_back(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.put("black", key("a"), b"payload")
    assert cache.get("black", key("a")) == b"payload"
    assert cache.get("black", key("b")) is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-3], id="truncated"),
        pytest.param(lambda data: data[:40] + b"X" + data[41:], id="a byte changed"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path: Path, damage: object) -> None:
    cache = FileCache(tmp_path)
    entry = key("x")
    cache.put("build", entry, b"the payload of an entry")
    (path,) = _entries(tmp_path)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert cache.get("build", entry) is None
    cache.put("build", entry, b"the payload of an entry")
    assert cache.get("build", entry) == b"the payload of an entry"


def test_writers_at_once_never_leave_half_an_entry(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    entry = key("shared")
    payloads = [bytes([i]) * 200_000 for i in range(8)]

    def write_then_read(i: int) -> bytes | None:
        cache.put("build", entry, payloads[i])
        return cache.get("build", entry)

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = list(pool.map(write_then_read, list(range(8)) * 4))
    assert all(found in payloads for found in seen)
    assert [p.name for p in _entries(tmp_path)] == [entry]  # no temporary files left


def test_keys_depend_on_every_part_and_its_boundaries() -> None:
    assert key("ab", "c") != key("a", "bc")
    assert key("a") == key("a")


def test_an_unwritable_folder_only_means_no_caching(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = FileCache(blocker)
    cache.put("build", key("a"), b"x")
    assert cache.get("build", key("a")) is None


def test_where_the_cache_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_cache(tmp_path, enabled=False), NoCache)
    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "env"))
    assert open_cache(None).root == tmp_path / "env"  # type: ignore[attr-defined]
    assert open_cache(tmp_path / "opt").root == tmp_path / "opt"  # type: ignore[attr-defined]
    monkeypatch.delenv("NB2PROD_CACHE_DIR")
    assert cache_module.default_folder().name == "nb2prod"


def test_an_unchanged_notebook_is_rebuilt_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh checkout (its build folder gone) with the cache kept, as CI restores it."""
    notebook = write_notebook(tmp_path / "cached_deploy.ipynb", CELLS)
    folder = tmp_path / "cache"
    first = build(notebook, tmp_path / "out", cache_dir=folder)
    assert first.status is Status.WRITTEN
    written = {p: p.read_text() for p in _entries(tmp_path / "out")}
    shutil.rmtree(tmp_path / "out")
    import nb2prod.lift

    monkeypatch.setattr(nb2prod.lift, "lift", lambda s: pytest.fail("the notebook was lifted"))
    second = build(notebook, tmp_path / "out", cache_dir=folder)
    assert second.status is Status.WRITTEN
    assert second.messages == first.messages
    assert any("%matplotlib" in m for m in second.messages)
    assert {p: p.read_text() for p in _entries(tmp_path / "out")} == written


def test_a_damaged_build_entry_is_rebuilt(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "cached_deploy.ipynb", CELLS)
    folder = tmp_path / "cache"
    build(notebook, tmp_path / "a", cache_dir=folder)
    (stored,) = _entries(folder / "result")
    store = FileCache(folder)
    store.put("result", stored.name, b'["key", {"files": [')
    shutil.rmtree(tmp_path / "a" / "cached_deploy")
    result = build(notebook, tmp_path / "a", cache_dir=folder)
    assert result.status is Status.WRITTEN
    assert (tmp_path / "a" / "cached_deploy" / "cached_deploy" / "pipeline.py").is_file()
    assert store.get("result", stored.name) != b'["key", {"files": [', "written again"


def test_the_cache_keeps_one_file_per_notebook(tmp_path: Path) -> None:
    """Each build replaces its notebook's pack: editing a notebook does not grow the cache."""
    notebook = write_notebook(tmp_path / "cached_deploy.ipynb", CELLS)
    folder = tmp_path / "cache"
    for value in range(3):
        write_notebook(notebook, [*CELLS[:2], f"deploy: sum(rows) + {value}"])
        assert build(notebook, tmp_path / "out", cache_dir=folder).ok
    assert len(_entries(folder / "pack")) == 1
    assert len(_entries(folder / "result")) == 1


def test_a_changed_notebook_is_not_served_from_the_cache(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "cached_deploy.ipynb", CELLS)
    folder = tmp_path / "cache"
    build(notebook, tmp_path / "out", cache_dir=folder)
    write_notebook(notebook, [*CELLS[:2], "deploy: max(rows)"])
    result = build(notebook, tmp_path / "out", cache_dir=folder)
    assert result.status is Status.WRITTEN
    pipeline = tmp_path / "out" / "cached_deploy" / "cached_deploy" / "pipeline.py"
    assert "max(rows)" in pipeline.read_text()


def test_a_newly_installed_distribution_is_not_hidden_by_the_cache(tmp_path: Path) -> None:
    """A module outside nb2prod's table is named by what is installed: installing the
    distribution that provides it changes the generated pyproject, cached or not."""
    notebook = write_notebook(tmp_path / "zz_deploy.ipynb", ["deploy: import zzfoo\nx = 1"])
    site = tmp_path / "site"
    site.mkdir()

    def built() -> str:
        command = [sys.executable, "-m", "nb2prod", "build", str(notebook), "-q"]
        command += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
        env = {**os.environ, "PYTHONPATH": str(site)}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return (tmp_path / "out" / "zz_deploy" / "pyproject.toml").read_text()

    assert '"zzfoo",' in built()
    info = site / "zzfoo_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zzfoo-dist\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("zzfoo\n")
    (info / "RECORD").write_text("zzfoo/__init__.py,,\n")
    assert '"zzfoo-dist",' in built()


def test_cli_cache_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "env"))
    write_notebook(tmp_path / "cli_deploy.ipynb", CELLS)
    runner = CliRunner()
    result = runner.invoke(app, ["build", "cli_deploy.ipynb", "--no-cache"])
    assert result.exit_code == 0, result.stderr
    assert _entries(tmp_path / "env") == []
    # Another output folder, so that the no-op rebuild of the first does not answer instead.
    result = runner.invoke(app, ["build", "cli_deploy.ipynb", "--cache-dir", "mine", "-o", "two"])
    assert result.exit_code == 0, result.stderr
    assert _entries(tmp_path / "mine")
    assert _entries(tmp_path / "env") == []


def test_help_imports_nothing_heavy() -> None:
    script = (
        "import sys\n"
        "sys.argv = ['nb2prod', '--help']\n"
        "from nb2prod.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('libcst', 'black', 'nbformat', 'nbconvert', 'jupytext', 'platformdirs',"
        " 'nb2prod.build', 'multiprocessing', 'jsonschema')\n"
        "print(sorted(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "Usage" in done.stdout
    assert done.stderr.strip() == "[]"


def test_two_builds_at_once_share_the_cache(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "shared_deploy.ipynb", CELLS)
    script = "from nb2prod.cli import main; main()"
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                "build",
                str(notebook),
                "--out",
                str(tmp_path / out),
                "--cache-dir",
                str(tmp_path / "cache"),
            ],
            stderr=subprocess.PIPE,
        )
        for out in ("a", "b")
    ]
    assert [run.wait() for run in runs] == [0, 0]
    for name in ("pipeline.py", "__main__.py"):
        a = tmp_path / "a" / "shared_deploy" / "shared_deploy" / name
        b = tmp_path / "b" / "shared_deploy" / "shared_deploy" / name
        assert a.read_text() == b.read_text()
    assert not [p for p in _entries(tmp_path / "cache") if p.name.startswith(".tmp-")]


def test_an_upgrade_replaces_the_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = write_notebook(tmp_path / "cached_deploy.ipynb", CELLS)
    folder = tmp_path / "cache"
    build(notebook, tmp_path / "a", cache_dir=folder)
    before = {p: p.read_bytes() for p in _entries(folder)}
    assert len(before) == 2, "one pack and one whole result"
    monkeypatch.setattr(cache_module, "code_version", lambda: "nb2prod 99")
    assert build(notebook, tmp_path / "b", cache_dir=folder).status is Status.WRITTEN
    after = {p: p.read_bytes() for p in _entries(folder)}
    assert after.keys() == before.keys(), "the same files"
    assert all(after[p] != before[p] for p in before), "rewritten"
