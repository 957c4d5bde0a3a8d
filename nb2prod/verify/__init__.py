"""Prove a build right: the notebook's cells in a real kernel against the generated run().

Part of the orchestration: it runs the pipeline's stages and the build, a kernel (kernel.py,
the only nbclient import) and a Python process, and compares the results (comparison.py).
"""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.analysis.selection import Selection, select
from nb2prod.emit.text import literal
from nb2prod.errors import Diagnostic, NotebookError, render_all
from nb2prod.lift import Plan, lift
from nb2prod.literals import NOT_A_LITERAL
from nb2prod.notebook.cells import PIPELINE_ROLES, Role
from nb2prod.notebook.reader import Notebook, is_text_suffix, read_notebook
from nb2prod.options import BuildOptions, VerifyOptions
from nb2prod.verify.comparison import comparable_repr, differences, text_diff
from nb2prod.verify.kernel import KernelCell, run_cells

DEFAULT_KERNEL = "python3"


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on one notebook: `report` for stdout, warnings and errors for stderr.

    `usage_error`: the command line asked for what the notebook does not have (a `-p NAME` no
    parameter binds), so nothing ran.
    """

    notebook: Path
    ok: bool
    report: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    usage_error: bool = False


class OverrideError(NotebookError):
    """A `-p NAME=VALUE` names no parameter of the notebook: a usage error."""


@dataclass(frozen=True)
class Captured:
    """A result brought back from another process: the value when it unpickles, and its repr."""

    text: str
    value: Any = None
    unpickled: bool = False


@dataclass(frozen=True)
class _Subject:
    """What verify knows about one notebook before running anything."""

    path: Path
    notebook: Notebook
    selection: Selection
    plan: Plan
    kernel: str
    overrides: tuple[tuple[str, Any], ...]


def parse_override(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` from `-p`: VALUE as a Python literal, else JSON, else the text itself."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(f"{text!r} is not NAME=VALUE")
    for parse in (ast.literal_eval, json.loads):
        try:
            return name, parse(raw)
        except NOT_A_LITERAL:
            continue
    return name, raw


def verify_notebook(path: Path, config: VerifyOptions) -> VerifyResult:
    """Build `path` into a temporary folder, run both sides, and compare; never raises for input."""
    warnings: list[Diagnostic] = []
    report: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="nb2prod-verify-") as tmp:
            ok = _verify(path, config, Path(tmp), warnings, report)
    except NotebookError as exc:
        # What was verified before the failure (the deploy run, when --whole fails) still stands.
        problems = [*(w for w in warnings if not w.note), _placed(path, exc.diagnostic)]
        usage = isinstance(exc, OverrideError)
        messages = render_all(path, problems)
        return VerifyResult(path, False, tuple(report), messages, usage_error=usage)
    return VerifyResult(
        path, ok, tuple(report), render_all(path, [w for w in warnings if not w.note])
    )


def _placed(path: Path, diagnostic: Diagnostic) -> Diagnostic:
    """An error about a text notebook's cell with its line in the file too."""
    if not is_text_suffix(path.suffix) or diagnostic.cell is None:
        return diagnostic
    try:
        return read_notebook(path).placed(diagnostic)
    except NotebookError:
        return diagnostic


def _verify(
    path: Path, config: VerifyOptions, tmp: Path, warnings: list[Diagnostic], report: list[str]
) -> bool:
    """Run and compare, adding the verdicts to `report`; whether every comparison agreed."""
    subject = _subject(path, config, warnings)
    _check_overrides(subject)
    project = _build(subject, config, tmp)
    cells = _deploy_cells(subject)
    notebook_value = _run_in_kernel(subject, config, cells, tmp / "cells")
    # run() stands for every cell the kernel ran, each allowed --timeout seconds there
    budget = config.timeout * sum(1 for cell in cells if cell.cell is not None)
    pipeline_value = _run_pipeline(project, budget, config, path.parent, tmp / "run")
    where = f"{path.as_posix()}: {_place(subject.notebook, _result_cell(subject))}"
    steps = tuple(step.name for step in subject.plan.steps)
    found = _compare(notebook_value, pipeline_value, config, project.name, steps)
    report += [_verdict(where, found, subject.kernel), *(f"  {line}" for line in found)]
    if not config.whole:
        return not found
    try:
        whole_value = _run_in_kernel(subject, config, _whole_cells(subject), tmp / "whole")
    except NotebookError as exc:
        diagnostic = exc.diagnostic
        raise NotebookError(
            f"running every cell (--whole): {diagnostic.message}", diagnostic.cell, diagnostic.line
        ) from None
    whole_found = _compare(whole_value, pipeline_value, config, project.name, steps)
    report += [_whole_verdict(path, whole_found, warnings), *(f"  {x}" for x in whole_found)]
    return not found and not whole_found


def _subject(path: Path, config: VerifyOptions, warnings: list[Diagnostic]) -> _Subject:
    """Read, select and lift the notebook; the build's warnings go to `warnings`."""
    notebook = read_notebook(path)
    selection = select(notebook, marks=config.marks)
    plan = lift(selection)
    warnings.extend(notebook.placed(note) for note in [*notebook.warnings, *plan.warnings])
    kernel = config.kernel or notebook.kernel or DEFAULT_KERNEL
    return _Subject(path, notebook, selection, plan, kernel, config.overrides)


def _check_overrides(subject: _Subject) -> None:
    """Every `-p NAME` must be a name the parameters cell binds."""
    known = [p.name for p in subject.plan.parameters]
    cells = subject.selection.with_role(Role.PARAMETERS)
    for name, _ in subject.overrides:
        if not cells:
            raise OverrideError(
                f"-p {name}: the notebook has no parameters cell; tag the cell that sets "
                "its parameters `parameters`"
            )
        if name not in known:
            raise OverrideError(
                f"-p {name}: the parameters cell binds no `{name}` (it binds "
                f"{', '.join(known) or 'nothing'}); use one of its names",
                cell=cells[0].index,
            )


def _build(subject: _Subject, config: VerifyOptions, tmp: Path) -> Path:
    """Generate the package into `tmp` with the build's own pipeline, from the notebook
    already read, and without the build cache (whose entry for the notebook is the user's
    build's, under another output folder); its project folder."""
    from nb2prod.build import package_target, render_package

    options = BuildOptions(out=tmp / "build", marks=config.marks)
    target, dest = package_target(subject.path, options)
    files = render_package(subject.notebook, target, [], marks=config.marks)
    for rel, text in files.items():
        file = dest / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    return dest


# --- the notebook's side ---------------------------------------------------------------------


def _deploy_cells(subject: _Subject) -> list[KernelCell]:
    """The parameters cells, the overrides, then the deploy cells: what run() promises to equal."""
    chosen = subject.selection.with_role(Role.PARAMETERS) + subject.selection.with_role(
        *PIPELINE_ROLES
    )
    return _with_overrides(subject, [c.index for c in chosen])


def _whole_cells(subject: _Subject) -> list[KernelCell]:
    """Every code cell up to the result cell; later cells cannot change what it showed."""
    last = _result_cell(subject)
    return _with_overrides(
        subject, [c.index for c in subject.notebook.cells if c.kind == "code" and c.index <= last]
    )


def _with_overrides(subject: _Subject, indexes: list[int]) -> list[KernelCell]:
    """Kernel cells for notebook cells `indexes`, overrides injected after the parameters."""
    parameters = {c.index for c in subject.selection.with_role(Role.PARAMETERS)}
    cells = [KernelCell(subject.notebook.cells[i - 1].source, i) for i in indexes]
    overrides = _override_source(subject)
    if overrides:
        after = max((n for n, c in enumerate(cells) if c.cell in parameters), default=-1)
        cells.insert(after + 1, KernelCell(overrides))
    return cells


def _override_source(subject: _Subject) -> str:
    return "".join(f"{name} = {value!r}\n" for name, value in subject.overrides)


def _run_in_kernel(
    subject: _Subject, config: VerifyOptions, cells: list[KernelCell], tmp: Path
) -> Captured:
    """Run `cells` in the kernel, in the notebook's folder, and capture the last cell's result."""
    tmp.mkdir()
    *before, result = cells
    marker = KernelCell("_nb2prod_shown = set(Out)\n")
    capture = KernelCell(_capture_source(tmp))
    folder = subject.path.parent.resolve()
    run_cells([*before, marker, result, capture], subject.kernel, folder, config.timeout)
    return _load(tmp)


def _capture_source(tmp: Path) -> str:
    """A cell that saves what Jupyter showed for the cell before it: its new entry in `Out`."""
    return (
        "def _nb2prod_capture(shown):\n"
        "    import pickle\n"
        "    new = [key for key in Out if key not in shown]\n"
        "    value = Out[max(new)] if new else None\n"
        "    try:\n"
        "        text = repr(value)\n"
        "    except Exception as exc:\n"
        "        text = f'<{type(value).__name__} whose repr raised {exc!r}>'\n"
        f"    with open({literal(str(tmp / 'value.txt'))}, 'w', encoding='utf-8') as out:\n"
        "        out.write(text)\n"
        "    try:\n"
        "        data = pickle.dumps(value)\n"
        "    except Exception:\n"
        "        return\n"
        f"    with open({literal(str(tmp / 'value.pickle'))}, 'wb') as out:\n"
        "        out.write(data)\n"
        "\n"
        "\n"
        "_nb2prod_capture(_nb2prod_shown)\n"
        "del _nb2prod_capture, _nb2prod_shown\n"
    )


# --- the pipeline's side ---------------------------------------------------------------------

_RUNNER = """\
import importlib, pickle, sys
project, package, folder = sys.argv[1:4]
sys.path.insert(0, project)
pipeline = importlib.import_module(package + ".pipeline")
with open(folder + "/params.pickle", "rb") as f:
    params = pickle.load(f)
value = pipeline.run(**params)
try:
    text = repr(value)
except Exception as exc:
    text = f"<{type(value).__name__} whose repr raised {exc!r}>"
with open(folder + "/value.txt", "w", encoding="utf-8") as f:
    f.write(text)
try:
    data = pickle.dumps(value)
except Exception:
    sys.exit(0)
with open(folder + "/value.pickle", "wb") as f:
    f.write(data)
"""


def _run_pipeline(
    project: Path, budget: float, config: VerifyOptions, folder: Path, tmp: Path
) -> Captured:
    """Call the generated run() in a fresh Python process in the notebook's folder, for at
    most `budget` seconds: --timeout for each cell it stands for."""
    tmp.mkdir()
    (tmp / "params.pickle").write_bytes(pickle.dumps(dict(config.overrides)))
    command = [sys.executable, "-c", _RUNNER, str(project), project.name, str(tmp)]
    try:
        done = subprocess.run(
            command,
            cwd=folder.resolve(),
            capture_output=True,
            text=True,
            timeout=budget,
            check=False,
        )
    except subprocess.TimeoutExpired:
        cells = round(budget / config.timeout)
        each = f"for each of the {cells} cells it runs" if cells != 1 else "for the cell it runs"
        raise NotebookError(
            f"the generated run() did not finish within {budget:g} s (--timeout "
            f"{config.timeout:g} s {each}); raise --timeout"
        ) from None
    if done.returncode != 0:
        raise NotebookError(
            f"the generated run() failed where the notebook's cells ran: {_last_line(done.stderr)}"
        )
    return _load(tmp)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "it exited without a message"


def _load(folder: Path) -> Captured:
    """The captured value, unpickled when this process can import its classes."""
    text = (folder / "value.txt").read_text(encoding="utf-8")
    data = folder / "value.pickle"
    if data.exists():
        try:
            return Captured(text, pickle.loads(data.read_bytes()), unpickled=True)
        except Exception:  # a class defined in the notebook or the package: compare reprs
            pass
    return Captured(text)


# --- the verdict -----------------------------------------------------------------------------


def _compare(
    notebook: Captured,
    pipeline: Captured,
    config: VerifyOptions,
    package: str,
    steps: tuple[str, ...],
) -> list[str]:
    """Differences between the two results; by repr when either value could not be brought
    back, without what differs between the runs (addresses, modules, the step functions)."""
    if notebook.unpickled and pipeline.unpickled:
        return differences(notebook.value, pipeline.value, config.tolerance)
    left = comparable_repr(notebook.text, ["__main__."])
    right = comparable_repr(pipeline.text, [f"{package}.pipeline."], steps)
    return [] if left == right else ["reprs differ:", *text_diff(left, right)]


def _verdict(where: str, found: list[str], kernel: str) -> str:
    if not found:
        return f"{where}: verified: run() equals the notebook's result in the {kernel} kernel"
    return (
        f"{where}: mismatch: run() differs from the notebook's result in the {kernel} kernel "
        "(notebook != pipeline):"
    )


def _whole_verdict(path: Path, found: list[str], warnings: list[Diagnostic]) -> str:
    where = f"{path.as_posix()}: whole notebook"
    if not found:
        return f"{where}: running every cell gives the pipeline's result too"
    hidden = sorted({w.cell for w in warnings if "hidden state" in w.message and w.cell})
    cause = (
        f"; unmarked cell(s) {', '.join(map(str, hidden))} change what deploy cells read"
        if hidden
        else ""
    )
    return (
        f"{where}: mismatch: running every cell gives another result{cause} (notebook != pipeline):"
    )


def _place(notebook: Notebook, cell: int) -> str:
    """`cell N`, or in a text notebook `line L (cell N)`: the place a verdict is about."""
    start = notebook.cells[cell - 1].first_line
    return f"cell {cell}" if start is None else f"line {start} (cell {cell})"


def _result_cell(subject: _Subject) -> int:
    return subject.selection.with_role(*PIPELINE_ROLES)[-1].index
