"""A refused build prints its one line and nothing else, to the end of the process.

Under load, a refused 158-cell build once printed `Exception ignored in: <module 'threading'>
... OSError: [Errno 9] Bad file descriptor` after its message. The cause: a build of 100 cells
or more starts a formatting process at once, and after a failure the pool was shut down
without waiting; at interpreter exit CPython's hook for process pools
(`concurrent.futures.process._python_exit`) then wrote to the wake-up pipe of the pool's
manager thread while that thread closed it, and the two hold no common lock. The race is
rare; the tests make it certain by holding the exit hook until the pipe is closed, and by
keeping the formatting process busy starting up, as a loaded machine does.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from notebooks import write_notebook

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes and shells")

# Run nb2prod's console entry point with the race made certain, as described above.
HARNESS = textwrap.dedent(
    """
    import sys, time
    from concurrent.futures import process

    from nb2prod.output import formatting

    warm = formatting._warm

    def slow_warm():  # the worker is still starting when the build fails
        time.sleep(1)
        warm()

    wakeup = process._ThreadWakeup.wakeup

    def late_wakeup(self):
        # At exit, the hook finds the pipe open (its check passes) and writes only once the
        # manager thread has closed it: the interleaving that loses the race.
        if process._global_shutdown and not self._closed:
            deadline = time.monotonic() + 20
            while not self._closed and time.monotonic() < deadline:
                time.sleep(0.01)
            self._writer.send_bytes(b"")
            return
        wakeup(self)

    formatting._warm = slow_warm
    process._ThreadWakeup.wakeup = late_wakeup
    from nb2prod.cli import main

    sys.argv = ["nb2prod", *sys.argv[1:]]
    main()
    """
)


@pytest.fixture
def large_refused(tmp_path: Path) -> Path:
    """A notebook large enough for the formatting process, refused at its first cell."""
    cells = ["deploy: x = (", *(f"deploy: x{i} = {i}" for i in range(157))]
    return write_notebook(tmp_path / "large_deploy.ipynb", cells)


def _build(notebook: Path, stdout: int | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NB2PROD_CACHE_DIR": str(notebook.parent / "cache")}
    return subprocess.run(
        [sys.executable, "-c", HARNESS, "build", notebook.name, "--no-cache"],
        cwd=notebook.parent,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "large_deploy.ipynb: cell 1, line 1: syntax error: '(' was never closed; fix the cell "
        "so that it runs in Jupyter"
    ]


def test_refused_large_build_prints_one_line_to_the_end(large_refused: Path) -> None:
    _one_line(_build(large_refused, subprocess.PIPE))


def test_refused_large_build_through_a_closed_pipe(large_refused: Path) -> None:
    """stdout a pipe nobody reads any more, as `nb2prod build ... | head -0` leaves it."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        _one_line(_build(large_refused, writer))
    finally:
        os.close(writer)


def test_refused_build_with_stdout_closed(large_refused: Path) -> None:
    """stdout closed before Python started (`>&-`): sys.stdout is None."""
    command = [sys.executable, "-c", HARNESS, "build", large_refused.name, "--no-cache"]
    script = f"exec {shlex.join(command)} >&-"
    done = subprocess.run(
        ["sh", "-c", script],
        cwd=large_refused.parent,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    _one_line(done)
