"""The output folder is safe: crashes, concurrent builds, links, hand edits and the drift check."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nb2prod.build import Status
from nb2prod.cli import app
from nb2prod.output.writer import with_header

from conftest import ROOT, build
from notebooks import write_notebook

runner = CliRunner()
PACKAGE = "churn_deploy"


def notebook(folder: Path, n: int = 3, stem: str = PACKAGE) -> Path:
    return write_notebook(
        folder / f"{stem}.ipynb",
        [f"parameters: n = {n}", "deploy: rows = list(range(n))", "deploy: sum(rows)"],
    )


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder`: file bytes, or where a link points."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_bytes()
    return found


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if ".nb2prod-" in p.name)


CRASH = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import nb2prod.output.writer as writer
    from nb2prod.build import build_notebook
    from nb2prod.options import BuildOptions

    point, notebook, out, root = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "mid-write":  # the first staged file is written, then the process dies
        original = Path.write_text
        def write_then_die(self, *args, **kwargs):
            original(self, *args, **kwargs)
            die()
        Path.write_text = write_then_die
    elif point == "after-swap":  # the new package is in place; cleanup never happens
        exchange = writer._exchange
        writer._exchange = lambda new, old: exchange(new, old) and die()
    elif point == "between-renames":  # no atomic exchange: killed after retiring the old
        writer._exchange = lambda new, old: False
        rename = Path.rename
        def rename_then_die(self, target):
            rename(self, target)
            if "-old-" in Path(target).name:
                die()
        Path.rename = rename_then_die
    build_notebook(notebook, BuildOptions(out=out, root=Path(root)))
    """
)


@pytest.mark.parametrize(
    ("point", "survivor"),
    [
        pytest.param("mid-write", "old", id="killed while writing the staging folder"),
        pytest.param("after-swap", "new", id="killed after the atomic swap"),
        pytest.param("between-renames", "missing", id="killed between the fallback's renames"),
    ],
)
def test_kill_9_mid_build_leaves_old_output_and_next_build_recovers(
    tmp_path: Path, point: str, survivor: str
) -> None:
    out = tmp_path / "out"
    source = notebook(tmp_path, n=3)
    assert build(source, out).status is Status.WRITTEN
    (out / PACKAGE / "notes.txt").write_text("mine")
    old = snapshot(out / PACKAGE)
    notebook(tmp_path, n=4)
    done = subprocess.run(
        [sys.executable, "-c", CRASH, point, str(source), str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == -9, done.stderr
    assert leftovers(out), "the kill left a staging or retired folder behind"
    if survivor == "old":
        assert snapshot(out / PACKAGE) == old
    elif survivor == "new":
        assert snapshot(out / PACKAGE) != old
        assert build(source, out, check=True).status is Status.UP_TO_DATE
    else:
        assert not (out / PACKAGE).exists()
    result = build(source, out)
    assert result.ok, result.messages
    assert leftovers(out) == []
    assert (out / PACKAGE / "notes.txt").read_text() == "mine"
    assert build(source, out, check=True).status is Status.UP_TO_DATE


CONCURRENT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nb2prod.build import build_notebook
    from nb2prod.options import BuildOptions

    notebook, out, root = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    for _ in range(2):
        result = build_notebook(notebook, BuildOptions(out=out, name="pkg", root=root))
        assert result.ok, result.messages
    """
)


def test_concurrent_builds_never_mix_or_fail(tmp_path: Path) -> None:
    """Builds of two notebook versions into one package, racing: the result is one of them."""
    out = tmp_path / "out"
    first = notebook(tmp_path / "a", n=3)
    second = notebook(tmp_path / "b", n=4)
    expected = []
    for source in (first, second):
        assert build(source, tmp_path / "alone", name="pkg").ok
        expected.append(snapshot(tmp_path / "alone" / "pkg"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(source), str(out), str(ROOT)],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for source in (first, second, first, second)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert snapshot(out / "pkg") in expected
    assert leftovers(out) == []


def test_parallel_threads_in_one_process(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    source = notebook(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: build(source, tmp_path / "out"), range(8)))
    assert all(r.ok for r in results), [r.messages for r in results]
    assert [r.status for r in results].count(Status.WRITTEN) == 1
    assert leftovers(tmp_path / "out") == []


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A notebook built once into out/, and a folder outside the output."""
    source = notebook(tmp_path)
    assert build(source, tmp_path / "out").status is Status.WRITTEN
    outside = tmp_path / "outside"
    outside.mkdir()
    return source, outside


def test_a_linked_file_is_never_written_through(tmp_path: Path, built: tuple[Path, Path]) -> None:
    source, outside = built
    pipeline = tmp_path / "out" / PACKAGE / PACKAGE / "pipeline.py"
    target = outside / "precious.py"
    target.write_text(pipeline.read_text())  # even an nb2prod file: the link is what matters
    pipeline.unlink()
    pipeline.symlink_to(target)
    notebook(tmp_path, n=5)
    result = build(source, tmp_path / "out")
    assert result.status is Status.FAILED
    assert "pipeline.py is or lies under a symbolic link" in result.messages[0]
    assert "--force" in result.messages[0]
    before = target.read_text()
    assert build(source, tmp_path / "out", force=True).status is Status.WRITTEN
    assert target.read_text() == before
    assert build(source, tmp_path / "clean").status is Status.WRITTEN
    clean = tmp_path / "clean" / PACKAGE / PACKAGE / "pipeline.py"
    assert not pipeline.is_symlink() and pipeline.read_text() == clean.read_text()


def test_a_linked_folder_is_never_written_through(tmp_path: Path, built: tuple[Path, Path]) -> None:
    source, outside = built
    package = tmp_path / "out" / PACKAGE / PACKAGE
    for path in package.iterdir():
        path.rename(outside / path.name)
    package.rmdir()
    package.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    notebook(tmp_path, n=5)
    assert build(source, tmp_path / "out").status is Status.FAILED
    assert build(source, tmp_path / "out", force=True).status is Status.WRITTEN
    assert snapshot(outside) == before
    assert package.is_dir() and not package.is_symlink()


def test_a_linked_package_folder_is_replaced_not_followed(
    tmp_path: Path, built: tuple[Path, Path]
) -> None:
    source, outside = built
    dest = tmp_path / "out" / PACKAGE
    dest.rename(outside / PACKAGE)
    dest.symlink_to(outside / PACKAGE, target_is_directory=True)
    before = snapshot(outside)
    result = build(source, tmp_path / "out")
    assert result.status is Status.FAILED
    assert result.messages[0].endswith(
        f"{dest.as_posix()} is or lies under a symbolic link; "
        "move your changes into the notebook, or pass --force"
    )
    assert build(source, tmp_path / "out", force=True).status is Status.WRITTEN
    assert snapshot(outside) == before
    assert not dest.is_symlink()


def test_links_nb2prod_does_not_write_are_kept_and_not_followed(
    tmp_path: Path, built: tuple[Path, Path]
) -> None:
    """A generated-looking file behind a link is not the package's: never removed."""
    source, outside = built
    (outside / "old.py").write_text(with_header("x = 1\n", "churn_deploy.ipynb"))
    (tmp_path / "out" / PACKAGE / "data").symlink_to(outside, target_is_directory=True)
    notebook(tmp_path, n=5)
    assert build(source, tmp_path / "out").status is Status.WRITTEN
    assert (outside / "old.py").exists()
    assert (tmp_path / "out" / PACKAGE / "data").is_symlink()


def test_a_fifo_where_a_file_belongs_is_refused_without_hanging(
    tmp_path: Path, built: tuple[Path, Path]
) -> None:
    source, _ = built
    pipeline = tmp_path / "out" / PACKAGE / PACKAGE / "pipeline.py"
    pipeline.unlink()
    os.mkfifo(pipeline)
    result = build(source, tmp_path / "out")
    assert result.status is Status.FAILED
    assert "pipeline.py was not written by nb2prod" in result.messages[0]


def test_obsolete_files_go_only_when_unedited(tmp_path: Path, built: tuple[Path, Path]) -> None:
    source, _ = built
    package = tmp_path / "out" / PACKAGE / PACKAGE
    (package / "api.py").write_text(with_header("app = 1\n", "churn_deploy.ipynb"))
    (package / "old.py").write_text(with_header("x = 1\n", "churn_deploy.ipynb") + "# mine\n")
    result = build(source, tmp_path / "out")
    assert result.status is Status.FAILED
    assert "old.py was edited by hand" in result.messages[0]
    assert (package / "api.py").exists() and (package / "old.py").exists()
    (package / "old.py").unlink()
    assert build(source, tmp_path / "out").status is Status.WRITTEN
    assert not (package / "api.py").exists()


# The drift check through the command line.


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_lists_missing_stale_and_hand_edited_files_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    notebook(tmp_path)
    assert invoke("build", f"{PACKAGE}.ipynb")[0] == 0
    assert invoke("build", f"{PACKAGE}.ipynb", "--check")[::2] == (0, "")
    root = f"build/{PACKAGE}"
    (tmp_path / root / "tests" / f"test_{PACKAGE}.py").unlink()
    init = tmp_path / root / PACKAGE / "__init__.py"
    init.write_text(init.read_text() + "# tweak\n")
    notebook(tmp_path, n=9)
    before = snapshot(tmp_path)
    code, out, err = invoke("build", f"{PACKAGE}.ipynb", "--check")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{root}/tests/test_{PACKAGE}.py: missing",
        f"{root}/{PACKAGE}/__main__.py: stale",
        f"{root}/{PACKAGE}/pipeline.py: stale",
        f"{root}/{PACKAGE}/__init__.py: edited by hand; "
        "move the change into the notebook, or pass --force",
        f"{PACKAGE}.ipynb: output is stale; run `nb2prod build` and commit it",
    ]
    assert snapshot(tmp_path) == before
    assert invoke("build", f"{PACKAGE}.ipynb", "--check", "--out", "elsewhere")[0] == 1
    assert not (tmp_path / "elsewhere").exists()


def test_refusal_writes_nothing_at_all(tmp_path: Path, built: tuple[Path, Path]) -> None:
    source, _ = built
    package = tmp_path / "out" / PACKAGE
    main = package / PACKAGE / "__main__.py"
    main.write_text("print('mine')\n")
    before = snapshot(package)
    notebook(tmp_path, n=7)
    result = build(source, tmp_path / "out")
    assert result.status is Status.FAILED
    assert result.messages == (
        f"{source.as_posix()}: refusing to overwrite or delete: {main.as_posix()} was not "
        "written by nb2prod; move your changes into the notebook, or pass --force",
    )
    assert snapshot(package) == before
    assert leftovers(tmp_path / "out") == []


def test_readme_drift_check_example_is_what_check_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's `--check` listing, reproduced: a deleted, a stale and a hand-edited file."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Ownership and the drift check") :]
    block = section[section.index("```console\n$ ") + len("```console\n$ ") :]
    command, *expected = block[: block.index("```")].strip().splitlines()
    monkeypatch.chdir(tmp_path)
    notebook(tmp_path / "notebooks")
    assert invoke("build", "notebooks/churn_deploy.ipynb")[0] == 0
    package = tmp_path / "build" / PACKAGE
    (package / "tests" / f"test_{PACKAGE}.py").unlink()
    init = package / PACKAGE / "__init__.py"
    init.write_text(init.read_text() + "# tweak\n")
    notebook(tmp_path / "notebooks", n=9)
    program, *args = command.split()
    assert program == "nb2prod"
    code, out, err = invoke(*args)
    assert (code, out, err.splitlines()) == (1, "", expected)
