"""Time nb2prod against its peers on real and synthetic notebooks, in one run; print the tables.

What is measured, every command a fresh process, rounds alternating the order of the tools so
that a busy machine slows them alike (medians; ratios are the figures to read):

- typical real notebooks (14 to 50 code cells, from the corpus of `corpus.py`): a cold
  `nb2prod build` against `jupyter nbconvert --to script` and `jupytext --to py:percent`;
- a folder of 100 real notebooks: a cold `nb2prod build -j 2`, wall and CPU time (with its
  processes), against nbconvert converting them all in one process, and against black alone
  formatting the code nb2prod hands it (`black --fast`, one worker, no cache: the floor while
  the output is black-formatted); then the same build again with the cache kept, into an
  empty output folder, as a CI run that restores nb2prod's cache does;
- synthetic notebooks of both generators (`generate.py`, about 5 lines a cell, and
  `generate_long.py`, 15 to 40) at 50, 200 and 2000 code cells: cold builds against both peers
  and against black alone on the code nb2prod hands it, peak memory, and the rebuild after one
  cell changed;
- `nb2prod --help` against the `--help` of a bare two-command typer app.

The corpus notebooks are copied with every code cell tagged `deploy`, as `corpus.py run` does.
Which ones: the sources of `corpus/sources.json` taken in turn (each repository's first
notebook, then each one's second, ...), keeping those that build; the first 100 are the
folder and the first 5 with 14 to 50 code cells are the typical ones. The choice is kept in
`corpus/speed_notebooks.json` so that later runs time the same notebooks (`--choose` makes it
again). nb2prod's modules are compiled to bytecode first, as an installed package's are.
Nothing here is a test: no number gates anything.

    python benchmarks/speed.py [--corpus DIR] [--rounds 3] [--cells 50 200 2000]
        [--skip real folder synthetic help] [--choose]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import generate
import generate_long
from corpus import DEFAULT_DEST, SOURCES, code_sources, load_sources, mark_deploy
from run import alternate, cold_runs, help_runs, rebuild_runs

BIN = Path(sys.executable).parent
CHOICE = Path(__file__).parent / "corpus" / "speed_notebooks.json"
FOLDER_SIZE = 100
TYPICAL = (14, 50)  # code cells of a typical real notebook
TYPICAL_COUNT = 5


@dataclass
class Usage:
    """Wall and CPU seconds (the process and every process it waited for) of repeated runs."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self) -> tuple[float, float]:
        return statistics.median(self.wall), statistics.median(self.cpu)


def timed(command: Sequence[str], usage: Usage, env: dict[str, str] | None = None) -> None:
    """Run `command`, adding its wall time and CPU time (children included) to `usage`."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or os.environ
    )
    _, status, rusage = os.wait4(process.pid, 0)
    usage.wall.append(time.perf_counter() - start)
    usage.cpu.append(rusage.ru_utime + rusage.ru_stime)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{error[-2000:]}")


# --- the corpus notebooks -----------------------------------------------------------------------


def corpus_order(corpus: Path) -> list[Path]:
    """The corpus's notebooks, the sources taken in turn: each one's first, then second, ..."""
    sources = load_sources(SOURCES)
    rows = [[corpus / s.folder / n for n in s.notebooks] for s in sources]
    ordered = []
    for turn in range(max(len(row) for row in rows)):
        ordered += [row[turn] for row in rows if turn < len(row) and row[turn].is_file()]
    return ordered


def marked_copy(notebook: Path, folder: Path, number: int) -> Path:
    """`notebook` with every code cell tagged deploy, as `folder/nbNNN_deploy.ipynb`."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    target = folder / f"nb{number:03d}_deploy.ipynb"
    target.write_text(json.dumps(mark_deploy(data), indent=1), encoding="utf-8")
    return target


def choose(corpus: Path, scratch: Path) -> dict[str, list[str]]:
    """Build every corpus notebook once; the first that build make the folder and typical set."""
    ordered = corpus_order(corpus)
    staging = scratch / "choose"
    staging.mkdir()
    copies = {marked_copy(path, staging, n): path for n, path in enumerate(ordered)}
    done = subprocess.run(
        [
            str(BIN / "nb2prod"),
            "build",
            str(staging),
            "-j",
            "2",
            "--no-cache",
            "--quiet",
            "--out",
            str(scratch / "choose-out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    failed = {line.split(":", 1)[0] for line in (done.stdout + done.stderr).splitlines()}
    built = [copies[c] for c in copies if c.as_posix() not in failed]
    names = [path.relative_to(corpus).as_posix() for path in built]
    cells = {name: len(code_sources(json.loads((corpus / name).read_text()))) for name in names}
    typical = [name for name in names if TYPICAL[0] <= cells[name] <= TYPICAL[1]]
    return {"folder": names[:FOLDER_SIZE], "typical": typical[:TYPICAL_COUNT]}


def chosen(corpus: Path, scratch: Path, again: bool) -> dict[str, list[str]]:
    if again or not CHOICE.is_file():
        choice = choose(corpus, scratch)
        CHOICE.write_text(json.dumps(choice, indent=1) + "\n", encoding="utf-8")
    result: dict[str, list[str]] = json.loads(CHOICE.read_text(encoding="utf-8"))
    return result


# --- the tables ---------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def real_table(corpus: Path, names: Sequence[str], scratch: Path, rounds: int) -> None:
    print(
        "| typical real notebook | code cells | nb2prod cold | nbconvert | jupytext "
        "| / nbconvert | / jupytext |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    to_nbconvert, to_jupytext = [], []
    for number, name in enumerate(names):
        folder = scratch / f"real-{number}"
        folder.mkdir()
        notebook = marked_copy(corpus / name, folder, number)
        cells = len(code_sources(json.loads((corpus / name).read_text(encoding="utf-8"))))
        cold = alternate(cold_runs(notebook, scratch, None), rounds)
        ours, nbconvert, jupytext = (cold[k].median for k in ("nb2prod", "nbconvert", "jupytext"))
        to_nbconvert.append(ours / nbconvert)
        to_jupytext.append(ours / jupytext)
        print(
            f"| {name} | {cells} | {ours:.2f} s | {nbconvert:.2f} s | {jupytext:.2f} s "
            f"| {ours / nbconvert:.2f}x | {ours / jupytext:.2f}x |",
            flush=True,
        )
    print(
        f"| **median** | | | | | **{statistics.median(to_nbconvert):.2f}x** "
        f"| **{statistics.median(to_jupytext):.2f}x** |"
    )


def raw_sources(notebooks: Sequence[Path], into: Path) -> None:
    """The unformatted code nb2prod hands black for each notebook, as files under `into`.

    Made in a process of its own: this one stays small, as a forked child's peak memory
    counts its parent's at the fork."""
    command = [sys.executable, __file__, "--raw", str(into), *map(str, notebooks)]
    subprocess.run(command, check=True)


def _write_raw(notebooks: Sequence[Path], into: Path) -> None:
    from nb2prod.analysis.selection import examine_cells, select
    from nb2prod.build import package_target
    from nb2prod.emit import emit_package
    from nb2prod.emit.module import step_codes
    from nb2prod.lift import lift
    from nb2prod.notebook.reader import read_notebook
    from nb2prod.options import BuildOptions

    for notebook in notebooks:
        target, _ = package_target(notebook, BuildOptions(out=into))
        plan = lift(select(read_notebook(notebook), examine_cells))
        for rel, text in emit_package(plan, target, step_codes).items():
            if rel.endswith(".py"):
                path = into / target.package / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")


def folder_table(corpus: Path, names: Sequence[str], scratch: Path, rounds: int) -> None:
    folder = scratch / "folder"
    folder.mkdir()
    notebooks = [marked_copy(corpus / name, folder, n) for n, name in enumerate(names)]
    raw = scratch / "raw"
    raw_sources(notebooks, raw)
    lines = sum(p.read_text(encoding="utf-8").count("\n") for p in raw.rglob("*.py"))
    usage = {name: Usage() for name in ("nb2prod", "nbconvert", "black", "warm")}
    for round_number in range(rounds):
        run = Path(tempfile.mkdtemp(dir=scratch))
        commands = _folder_commands(folder, notebooks, raw, run)
        order = ["nb2prod", "nbconvert", "black"]
        shift = round_number % len(order)
        for name in order[shift:] + order[:shift]:
            if name == "black":
                shutil.rmtree(raw)
                raw_sources(notebooks, raw)  # unformatted again
            command, env = commands[name]
            timed(command, usage[name], env)
        # CI with nb2prod's cache restored: the same notebooks and output folder, emptied
        # (a fresh checkout that does not commit the packages).
        shutil.rmtree(run / "a", ignore_errors=True)
        command, env = commands["warm"]
        timed(command, usage["warm"], env)
    ours, nbconvert, black, warm = (usage[k].median() for k in usage)
    print(
        f"Folder of {len(notebooks)} real notebooks ({lines} lines of generated code to "
        "format), cold unless said, medians:"
    )
    print()
    print("| | wall | CPU | nb2prod / it, wall | nb2prod / it, CPU |")
    print("|---|---:|---:|---:|---:|")
    print(f"| nb2prod build -j 2 | {ours[0]:.1f} s | {ours[1]:.1f} s | | |")
    print(
        f"| nbconvert, one process | {nbconvert[0]:.1f} s | {nbconvert[1]:.1f} s "
        f"| {ratio(ours[0], nbconvert[0])} | |"
    )
    print(
        f"| black --fast alone, same code | {black[0]:.1f} s | {black[1]:.1f} s | "
        f"| {ratio(ours[1], black[1])} |"
    )
    print(
        f"| nb2prod build -j 2, cache restored (warm CI) | {warm[0]:.1f} s | {warm[1]:.1f} s "
        f"| {ratio(warm[0], ours[0])} of cold | |"
    )


def _folder_commands(
    folder: Path, notebooks: Sequence[Path], raw: Path, run: Path
) -> dict[str, tuple[list[str], dict[str, str] | None]]:
    """The commands of one round of the folder table, with their environments."""
    build = [str(BIN / "nb2prod"), "build", str(folder), "-j", "2", "--quiet"]
    cache = ["--cache-dir", str(run / "cache")]
    nbconvert = [str(BIN / "jupyter"), "nbconvert", "--to", "script", *map(str, notebooks)]
    black = [str(BIN / "black"), "--fast", "--workers", "1", "-q", str(raw)]
    return {
        "nb2prod": ([*build, "--out", str(run / "a"), *cache], None),
        "nbconvert": ([*nbconvert, "--output-dir", str(run / "nbconvert")], None),
        "black": (black, {**os.environ, "BLACK_CACHE_DIR": str(run / "black-cache")}),
        "warm": ([*build, "--out", str(run / "a"), *cache], None),
    }


def synthetic_table(scratch: Path, sizes: Sequence[int], rounds: int) -> None:
    print(
        "| generator | code cells | nb2prod cold | nbconvert | jupytext | black alone "
        "| / nbconvert | / jupytext | black alone / nbconvert | rebuild, one cell changed "
        "| rebuild / cold | peak MB nb2prod |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for module, label in ((generate, "generate.py"), (generate_long, "generate_long.py")):
        for size in sizes:
            notebook = module.write(scratch / "synthetic", size)
            runs = {**cold_runs(notebook, scratch, None), "black": black_alone(notebook, scratch)}
            cold = alternate(runs, rounds)
            rebuild = rebuild_runs(notebook, scratch / f"rebuild-{label}-{size}", rounds, None)
            ours = cold["nb2prod"]
            nbconvert, jupytext = cold["nbconvert"].median, cold["jupytext"].median
            black = cold["black"].median
            print(
                f"| {label} | {size} | {ours.median:.2f} s | {nbconvert:.2f} s "
                f"| {jupytext:.2f} s | {black:.2f} s | {ours.median / nbconvert:.2f}x "
                f"| {ours.median / jupytext:.2f}x | {black / nbconvert:.2f}x "
                f"| {rebuild.median:.2f} s | {rebuild.median / ours.median:.2f} "
                f"| {ours.memory:.0f} |",
                flush=True,
            )


def black_alone(notebook: Path, scratch: Path) -> Callable[[], list[str]]:
    """`black --fast` on a fresh copy of the unformatted code nb2prod hands black for
    `notebook` (one worker; a new folder, so black's cache knows none of it): the floor of a
    build while its output is black-formatted."""
    raw = scratch / f"raw-{notebook.stem}"
    raw_sources([notebook], raw)

    def command() -> list[str]:
        copy = Path(tempfile.mkdtemp(dir=scratch)) / "raw"
        shutil.copytree(raw, copy)
        return [str(BIN / "black"), "--fast", "--workers", "1", "-q", str(copy)]

    return command


def help_line(scratch: Path, rounds: int) -> None:
    helps = help_runs(scratch, rounds * 4, None)
    ours, bare = helps["nb2prod --help"].median, helps["bare typer --help"].median
    print(
        f"`nb2prod --help` {ours * 1000:.0f} ms, bare two-command typer app "
        f"{bare * 1000:.0f} ms: {ours / bare:.2f}x"
    )


def main() -> None:
    if sys.argv[1:2] == ["--raw"]:  # raw_sources, in a process of its own
        _write_raw([Path(p) for p in sys.argv[3:]], Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cells", type=int, nargs="+", default=list(generate.SIZES))
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["real", "folder", "synthetic", "help"]
    )
    parser.add_argument("--choose", action="store_true", help="choose the corpus notebooks again")
    args = parser.parse_args()
    spec = importlib.util.find_spec("nb2prod")
    assert spec is not None and spec.submodule_search_locations
    compileall.compile_dir(next(iter(spec.submodule_search_locations)), quiet=1)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start; "
        f"{args.rounds} rounds alternated, medians"
    )
    print()
    scratch = Path(tempfile.mkdtemp(prefix="nb2prod-speed-"))
    os.environ["BLACK_CACHE_DIR"] = str(scratch / "black-cache")  # black alone's, thrown away
    try:
        needs_corpus = not {"real", "folder"} <= set(args.skip)
        choice = chosen(args.corpus, scratch, args.choose) if needs_corpus else {}
        if "real" not in args.skip:
            real_table(args.corpus, choice["typical"], scratch, args.rounds)
            print()
        if "folder" not in args.skip:
            folder_table(args.corpus, choice["folder"], scratch, args.rounds)
            print()
        if "synthetic" not in args.skip:
            synthetic_table(scratch, args.cells, args.rounds)
            print()
        if "help" not in args.skip:
            help_line(scratch, args.rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
