"""Run code cells in a real Jupyter kernel (the only nbclient import)."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nb2prod.errors import NotebookError, one_line
from nb2prod.notebook.reader import code_notebook

_QUIET = logging.getLogger("nb2prod.verify.kernel")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class KernelCell:
    """Code to run; `cell` is the notebook cell it comes from, None for code nb2prod adds."""

    source: str
    cell: int | None = None


def run_cells(cells: Sequence[KernelCell], kernel: str, folder: Path, timeout: float) -> None:
    """Run `cells` in order in a fresh `kernel` started in `folder`, then shut it down.

    Raises NotebookError naming the cell that failed, timed out or killed the kernel, or
    saying that the kernel is not installed or could not start.
    """
    try:
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError:
        raise NotebookError(
            "verify needs nbclient and ipykernel; install them with `pip install 'nb2prod[verify]'`"
        ) from None
    node = code_notebook([c.source for c in cells])
    client = NotebookClient(
        node,
        timeout=max(1, round(timeout)),
        kernel_name=kernel,
        resources={"metadata": {"path": str(folder)}},
        log=_QUIET,
    )
    running: int | None = None
    try:
        # The kernel's own log (transport warnings, shutdown noise) is not the user's concern.
        with client.setup_kernel(stderr=subprocess.DEVNULL):
            for index, cell in enumerate(cells):
                running = cell.cell
                client.execute_cell(node.cells[index], index)
    except NoSuchKernel:
        raise NotebookError(_missing_kernel(kernel)) from None
    except CellTimeoutError:
        raise NotebookError(
            f"did not finish within {timeout:g} s in the {kernel} kernel; "
            "raise --timeout or make the cell faster",
            cell=running,
        ) from None
    except DeadKernelError:
        raise NotebookError(
            f"the {kernel} kernel died while running this cell (it exited or ran out of "
            "memory); make the cell run to the end in Jupyter",
            cell=running,
        ) from None
    except CellExecutionError as exc:
        raise NotebookError(
            f"raised {exc.ename}: {one_line(exc.evalue, 200)} in the {kernel} kernel; "
            "fix the notebook so that it runs from the top",
            cell=running,
        ) from None
    except (RuntimeError, TimeoutError) as exc:
        raise NotebookError(
            f"the {kernel} kernel could not start ({one_line(str(exc), 200)}); "
            "check it with `jupyter kernelspec list`"
        ) from None


def _missing_kernel(kernel: str) -> str:
    return (
        f"kernel `{kernel}` is not installed; install it (`python -m ipykernel install --user "
        f"--name {kernel}`), or see `jupyter kernelspec list` and pass --kernel NAME"
    )
