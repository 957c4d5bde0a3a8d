"""Time a cold `nb2prod build` against nbconvert and jupytext on synthetic deploy notebooks.

Every tool runs as a fresh process on the same notebooks, rounds alternate the order of the
tools so that a busy machine slows them alike, and the table shows medians, the ratio to
nbconvert, time per cell and peak memory (the largest resident set of the process and what it
waited for). Rebuilds after one changed cell, and `--help` against a bare two-command typer app,
are timed the same way. Nothing here is a test: no number gates anything.

    python benchmarks/run.py [--cells 50 200 2000] [--rounds 5] [--baseline SRC]

`--baseline SRC` times the nb2prod package found in the folder SRC (say, an older commit
unpacked with `git archive`) instead of the installed one, without cache options.
"""

from __future__ import annotations

import argparse
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

from generate import SIZES, write

BIN = Path(sys.executable).parent
BARE_TYPER = """
import typer

app = typer.Typer(add_completion=False)


@app.command()
def build(path: str) -> None:
    '''Build.'''


@app.command()
def check(path: str) -> None:
    '''Check.'''


app()
"""


@dataclass
class Samples:
    """Wall-clock seconds and peak memory (MB) of repeated runs of one command."""

    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def memory(self) -> float:
        return max(self.peak_mb)


def measure(command: Sequence[str], samples: Samples) -> None:
    """Run `command` once, adding its wall time and peak resident memory to `samples`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    samples.seconds.append(time.perf_counter() - start)
    samples.peak_mb.append(usage.ru_maxrss / 1024)  # kilobytes on Linux
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(command)} failed:\n{error}")
    if process.stderr:
        process.stderr.close()


def alternate(runs: dict[str, Callable[[], list[str]]], rounds: int) -> dict[str, Samples]:
    """Each command `rounds` times, the order rotated every round."""
    results = {name: Samples() for name in runs}
    names = list(runs)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            measure(runs[name](), results[name])
    return results


def nb2prod_command(notebook: Path, out: Path, cache: Path, baseline: Path | None) -> list[str]:
    """`nb2prod build` with its own cache folder, or the baseline's build without one."""
    if baseline is not None:
        script = (
            f"import sys; sys.path.insert(0, {str(baseline)!r}); import nb2prod.cli as c; c.main()"
        )
        return [sys.executable, "-c", script, "build", str(notebook), "--out", str(out)]
    command = [str(BIN / "nb2prod"), "build", str(notebook), "--out", str(out)]
    return [*command, "--cache-dir", str(cache)]


def cold_runs(
    notebook: Path, scratch: Path, baseline: Path | None
) -> dict[str, Callable[[], list[str]]]:
    """Fresh output and an empty cache for nb2prod on every run; fresh outputs for the peers."""

    def nb2prod() -> list[str]:
        run = Path(tempfile.mkdtemp(dir=scratch))
        return nb2prod_command(notebook, run / "out", run / "cache", baseline)

    def nbconvert() -> list[str]:
        out = tempfile.mkdtemp(dir=scratch)
        return [
            str(BIN / "jupyter"),
            "nbconvert",
            "--to",
            "script",
            str(notebook),
            "--output-dir",
            out,
        ]

    def jupytext() -> list[str]:
        out = Path(tempfile.mkdtemp(dir=scratch)) / "notebook.py"
        return [str(BIN / "jupytext"), "--to", "py:percent", str(notebook), "-o", str(out)]

    return {"nb2prod": nb2prod, "nbconvert": nbconvert, "jupytext": jupytext}


def rebuild_runs(notebook: Path, scratch: Path, rounds: int, baseline: Path | None) -> Samples:
    """Rebuilds with a warm cache after one deploy cell changed (a new value each time)."""
    out, cache = scratch / "rebuild-out", scratch / "rebuild-cache"
    command = nb2prod_command(notebook, out, cache, baseline)
    measure(command, Samples())  # warms the cache and writes the output
    samples = Samples()
    for round_number in range(rounds):
        _change_one_cell(notebook, round_number)
        measure(command, samples)
    return samples


def _change_one_cell(notebook: Path, value: int) -> None:
    """Rewrite the constant in the middle deploy cell: what an edit in Jupyter does."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [c for c in data["cells"] if "deploy" in c["metadata"].get("tags", [])]
    cell = cells[len(cells) // 2]
    cell["source"] = [f"changed_{value} = {value}\n", *cell["source"]]
    notebook.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def help_runs(scratch: Path, rounds: int, baseline: Path | None) -> dict[str, Samples]:
    """`nb2prod --help` against the `--help` of a bare typer app with two commands."""
    bare = scratch / "bare_typer.py"
    bare.write_text(BARE_TYPER, encoding="utf-8")
    ours = [*nb2prod_command(Path(), Path(), Path(), baseline)[:3], "--help"]
    if baseline is None:
        ours = [str(BIN / "nb2prod"), "--help"]
    runs = {
        "nb2prod --help": lambda: ours,
        "bare typer --help": lambda: [sys.executable, str(bare), "--help"],
    }
    return alternate(runs, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, default=None)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="nb2prod-bench-"))
    baseline = args.baseline.resolve() if args.baseline else None
    try:
        _report(scratch, args.cells, args.rounds, baseline)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _report(scratch: Path, sizes: Sequence[int], rounds: int, baseline: Path | None) -> None:
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load:.2f} at start; "
        f"{rounds} rounds alternated, medians"
    )
    print()
    print(
        "| code cells | nb2prod cold | nbconvert | jupytext | nb2prod / nbconvert "
        "| ms per cell | rebuild, one cell changed | rebuild / cold "
        "| peak MB nb2prod / nbconvert / jupytext |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        notebook = write(scratch / "notebooks", size)
        cold = alternate(cold_runs(notebook, scratch, baseline), rounds)
        rebuild = rebuild_runs(notebook, scratch, rounds, baseline)
        ours, peer = cold["nb2prod"], cold["nbconvert"]
        print(
            f"| {size} | {ours.median:.2f} s | {peer.median:.2f} s "
            f"| {cold['jupytext'].median:.2f} s | {ours.median / peer.median:.2f}x "
            f"| {1000 * ours.median / size:.1f} | {rebuild.median:.2f} s "
            f"| {rebuild.median / ours.median:.2f} "
            f"| {ours.memory:.0f} / {peer.memory:.0f} / {cold['jupytext'].memory:.0f} |",
            flush=True,
        )
    helps = help_runs(scratch, rounds * 4, baseline)
    ours_help, bare_help = helps["nb2prod --help"], helps["bare typer --help"]
    print()
    print(
        f"`nb2prod --help` {ours_help.median * 1000:.0f} ms, bare two-command typer app "
        f"{bare_help.median * 1000:.0f} ms: {ours_help.median / bare_help.median:.2f}x"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
