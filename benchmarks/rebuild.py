"""Time a first build and a no-op rebuild of a folder of 20 notebooks; print the ratio.

Run with `python benchmarks/rebuild.py`. Each build is a fresh `nb2prod build` process, as in
a Makefile or pre-commit hook, so start-up time counts on both sides.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "churn_deploy.ipynb"
COUNT = 20


def timed_build(folder: Path) -> float:
    """Seconds for one `nb2prod build notebooks` in `folder`."""
    command = [sys.executable, "-m", "nb2prod", "build", "notebooks", "--quiet"]
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    return time.perf_counter() - start


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (folder / "build").rglob("*") if p.is_file()}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "notebooks").mkdir()
        for number in range(COUNT):
            shutil.copy(EXAMPLE, folder / "notebooks" / f"churn_{number:02d}_deploy.ipynb")
        first = timed_build(folder)
        before = mtimes(folder)
        again = timed_build(folder)
        unchanged = mtimes(folder) == before
    print(f"{COUNT} notebooks: first build {first:.2f}s, no-op rebuild {again:.2f}s")
    print(f"rebuild / first = {again / first:.3f} (target <= 0.25); files untouched: {unchanged}")


if __name__ == "__main__":
    main()
