"""Fetch a corpus of public notebooks and measure how nb2prod does on them.

The corpus is `benchmarks/corpus/sources.json`: public repositories at fixed commits, the
notebooks taken from each and the small data files beside them. `fetch` writes them under DEST,
reading local bare mirrors where there are any and a blob-less clone otherwise. `run` copies each
notebook into a temporary folder with every code cell tagged `deploy`, builds it with nb2prod's
command line, checks that every generated module compiles, and verifies (`nb2prod verify`) the
notebooks that need nothing beyond the standard library and the common scientific stack. It
prints a Markdown report and, with --json, writes every notebook's outcome, so that runs before
and after a change can be compared. Nothing here is a test, and no figure gates anything.

    python benchmarks/corpus.py fetch [--mirror /work/.mirror] [--dest DIR]
    python benchmarks/corpus.py run [--dest DIR] [--jobs N] [--json OUT] [--no-verify]

nb2prod is used only through its command line (`--nb2prod`, default: the one beside this Python).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "corpus" / "sources.json"
DEFAULT_DEST = HERE / "corpus" / "notebooks"
DEFAULT_NB2PROD = Path(sys.executable).parent / "nb2prod"

BUILD_TIMEOUT = 60.0
VERIFY_CELL_TIMEOUT = 20
VERIFY_TIMEOUT = 300.0
MAX_DATA_BESIDE = 20_000_000  # bytes of data files copied beside a notebook; more is not small

# What a notebook may import to count as runnable: the standard library and the stack that the
# `corpus` extra installs. `IPython.display` is allowed because nb2prod brings its own display().
RUNNABLE_PACKAGES = frozenset(
    {"numpy", "pandas", "sklearn", "scipy", "matplotlib", "mpl_toolkits", "pylab", "seaborn"}
)
RUNNABLE_MODULES = frozenset({"IPython.display"})

# IPython syntax that reaches outside the kernel's folder (shell commands, package installs):
# a corpus run never executes it.
_SHELL = re.compile(r"^\s*(!|%%?(sx|system|bash|sh|script|pip|conda|!)\b)|^\s*[\w.,\s]+=\s*[!%]")
_MAGIC_LINE = re.compile(r"^\s*(%|!)|^\s*[\w.,\s]+=\s*[!%]|^\s*([^#\s][^#]*)?\?\s*$")
_KEEP_BODY = frozenset({"time", "timeit", "capture", "prun"})
# Statements only Python 2 has: print and exec statements, `except E, e`, `raise E, v`, backticks.
_PYTHON2 = re.compile(
    r"^\s*(print|exec)\s+[^\s(=]|^\s*except\s+[\w.]+\s*,\s*\w+\s*:|^\s*raise\s+\w+\s*,"
    r"|`\w+`|\bur['\"]|<>"
)


# --- the sources --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One repository at one commit, and the files taken from it."""

    repo: str
    commit: str
    notebooks: tuple[str, ...]
    data: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """The folder under DEST that holds this repository's files."""
        return self.repo.replace("/", "__")


def load_sources(path: Path) -> list[Source]:
    """The sources listed in `path` (see sources.json), with every path checked for safety."""
    document = json.loads(path.read_text(encoding="utf-8"))
    sources = []
    for entry in document["sources"]:
        owner, _, name = entry["repo"].partition("/")
        if not (_is_name(owner) and _is_name(name)):
            raise ValueError(f"{path}: {entry['repo']!r} is not OWNER/NAME")
        if not re.fullmatch(r"[0-9a-f]{40}", entry["commit"]):
            raise ValueError(f"{path}: {entry['repo']}: {entry['commit']!r} is not a commit SHA")
        files = [*entry["notebooks"], *entry.get("data", [])]
        for file in files:
            if not is_safe_path(file):
                raise ValueError(f"{path}: {entry['repo']}: unsafe path {file!r}")
        sources.append(
            Source(
                entry["repo"],
                entry["commit"],
                tuple(entry["notebooks"]),
                tuple(entry.get("data", [])),
            )
        )
    return sources


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text) is not None


def is_safe_path(path: str) -> bool:
    """Whether `path` stays inside the folder it is written to: relative, no `..`, none empty."""
    parts = PurePosixPath(path).parts
    return bool(parts) and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


# --- fetch --------------------------------------------------------------------------------------


def _git(git_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def _has_commit(git_dir: Path, commit: str) -> bool:
    return _git(git_dir, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


def mirror_git_dir(mirror: Path, source: Source) -> Path | None:
    """The bare git directory of `source` under `mirror` that holds its commit, if any."""
    base = mirror / source.repo.replace("/", "+")
    for candidate in (base / "repo", base / "repo" / ".git", base, base.with_suffix(".git")):
        if (candidate / "HEAD").is_file() and _has_commit(candidate, source.commit):
            return candidate
    return None


def _clone(source: Source, into: Path) -> Path | None:
    """A blob-less clone of `source` from GitHub holding its commit, or None (with a message)."""
    url = f"https://github.com/{source.repo}"
    try:
        done = subprocess.run(
            ["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, str(into)],
            capture_output=True,
            timeout=600,
            check=False,
        )
        if done.returncode == 0 and not _has_commit(into, source.commit):
            _git(
                into, "fetch", "--quiet", "--filter=blob:none", "origin", source.commit, timeout=600
            )
    except subprocess.TimeoutExpired:
        print(f"{source.repo}: cloning {url} took over 600 s", file=sys.stderr)
        return None
    if done.returncode != 0 or not _has_commit(into, source.commit):
        why = done.stderr.decode(errors="replace").strip().splitlines()
        print(
            f"{source.repo}: could not clone {url}: {why[-1] if why else 'no commit'}",
            file=sys.stderr,
        )
        return None
    return into


def _copy_files(git_dir: Path, source: Source, paths: Iterable[str], dest: Path) -> list[str]:
    """Write each of `paths` at the source's commit under dest; the paths that could not be read."""
    missing = []
    for path in paths:
        done = _git(git_dir, "cat-file", "blob", f"{source.commit}:{path}")
        if done.returncode != 0:
            missing.append(path)
            continue
        target = dest / source.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(done.stdout)
    return missing


def fetch(sources: Sequence[Source], mirror: Path, dest: Path) -> int:
    """Write every source's files under `dest`; say what could not be had; 1 if anything."""
    written = failed = 0
    for source in sources:
        wanted = [*source.notebooks, *source.data]
        git_dir = mirror_git_dir(mirror, source)
        missing = wanted if git_dir is None else _copy_files(git_dir, source, wanted, dest)
        if missing:
            with tempfile.TemporaryDirectory(prefix="nb2prod-corpus-clone-") as tmp:
                clone = _clone(source, Path(tmp) / "repo.git")
                if clone is not None:
                    missing = _copy_files(clone, source, missing, dest)
        for path in missing:
            kind = "notebook" if path in source.notebooks else "data file"
            print(
                f"{source.repo}@{source.commit[:12]}: {kind} {path}: could not be had",
                file=sys.stderr,
            )
        written += len(wanted) - len(missing)
        failed += len(missing)
    print(f"{written} files written under {dest}; {failed} could not be had")
    return 1 if failed else 0


# --- notebooks as JSON --------------------------------------------------------------------------


def cells_of(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """Every cell in notebook order, for nbformat 4 (`cells`) and 3 (`worksheets`)."""
    if "worksheets" in notebook:
        return [c for sheet in notebook["worksheets"] for c in sheet.get("cells", [])]
    cells = notebook.get("cells", [])
    return cells if isinstance(cells, list) else []


def source_of(cell: dict[str, Any]) -> str:
    """A cell's code: `source` in nbformat 4, `input` for nbformat 3 code cells."""
    text = cell.get("source", cell.get("input", ""))
    return "".join(text) if isinstance(text, list) else str(text)


def code_sources(notebook: dict[str, Any]) -> list[str]:
    """The code of every non-empty code cell."""
    codes = (source_of(c) for c in cells_of(notebook) if c.get("cell_type") == "code")
    return [code for code in codes if code.strip()]


def mark_deploy(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of `notebook` with `deploy` added to every code cell's tags; nothing else changes."""
    marked = copy.deepcopy(notebook)
    for cell in cells_of(marked):
        if cell.get("cell_type") != "code":
            continue
        metadata = cell.setdefault("metadata", {})
        tags = metadata.setdefault("tags", [])
        if isinstance(tags, list) and "deploy" not in tags:
            tags.append("deploy")
    return marked


# --- what a notebook imports --------------------------------------------------------------------


def python_of(code: str) -> str | None:
    """The cell's code with IPython syntax blanked out, or None for a cell magic's foreign body."""
    lines = code.splitlines()
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)
        if not magic or magic[0] not in _KEEP_BODY:
            return None
        lines = lines[1:]
    kept = []
    for line in lines:
        if _MAGIC_LINE.search(line):
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass")
        else:
            kept.append(line)
    return "\n".join(kept)


def imported_modules(codes: Iterable[str]) -> set[str] | None:
    """Every module the cells import (dotted, as written), or None when a cell does not parse."""
    modules: set[str] = set()
    for code in codes:
        python = python_of(code)
        if python is None:
            continue
        try:
            tree = ast.parse(python)
        except (SyntaxError, ValueError):
            return None
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                modules.add("." * node.level + (node.module or ""))
    return modules


def is_runnable_module(module: str) -> bool:
    """Whether `module` is the standard library's or the scientific stack's."""
    if module.startswith("."):
        return False
    top = module.split(".")[0]
    allowed = {m for m in RUNNABLE_MODULES if module == m or module.startswith(m + ".")}
    return top in sys.stdlib_module_names or top in RUNNABLE_PACKAGES or bool(allowed)


def runnable(codes: Sequence[str]) -> tuple[bool, str]:
    """Whether the cells can run as plain scripts here, and if not, why not."""
    if any(_SHELL.search(line) for code in codes for line in code.splitlines()):
        return False, "runs shell commands or installs packages"
    modules = imported_modules(codes)
    if modules is None:
        return False, "a cell does not parse"
    foreign = sorted({m.split(".")[0] or m for m in modules if not is_runnable_module(m)})
    if foreign:
        return False, "imports " + ", ".join(foreign)
    return True, ""


def shows_value(code: str) -> bool:
    """Whether Jupyter shows a value for this cell: it ends with an expression and no `;`."""
    python = python_of(code)
    try:
        tree = ast.parse(python or "")
    except (SyntaxError, ValueError):
        return False
    last = python.rstrip().splitlines()[-1] if python and python.strip() else ""
    return bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not last.endswith(";")


# --- reasons ------------------------------------------------------------------------------------

# The categories of refusal, from the messages nb2prod gives on the corpus (first match wins).
REASONS: tuple[tuple[str, str], ...] = (
    (r"^syntax error", "syntax error"),
    (r"read names that no deploy or parameters cell binds", "undefined name"),
    (
        r"magic changes what the code does|magic does work the pipeline",
        "magic whose value the code needs",
    ),
    (r"assigns the output of an IPython magic", "magic whose value the code needs"),
    (r"is not a valid notebook|^field |expected a list|not a notebook", "schema"),
    (r"binds again after cell N uses", "rebound after use"),
    (r"bound here and by an import", "bound here and by an import"),
    (r"\bglobal\b", "global rebinding"),
    (r"kernel; nb2prod lifts Python notebooks only", "non-Python kernel"),
    (r"^is a Python N notebook", "Python 2 kernel"),
    (r"no deploy cells|no code", "no code"),
)
_MAGIC_NAME = re.compile(r"the (%%?[\w.]*) (cell )?magic|(= *[!%])")


def message_of(output: str, notebook: str) -> str:
    """The first error line nb2prod printed for `notebook`, without the path; else the last line."""
    lines = [line for line in output.splitlines() if line.strip()]
    for line in lines:
        rest = line.removeprefix(f"{notebook}: ")
        if rest != line and not _is_warning(rest):
            return rest
    return lines[-1] if lines else ""


def _is_warning(rest: str) -> bool:
    return re.sub(r"^cell \d+(, line \d+)?: ", "", rest).startswith("warning:")


def strip_location(message: str) -> str:
    """`cell 3, line 2: what` -> `what`."""
    return re.sub(r"^(cell \d+(, line \d+)?|whole notebook): ", "", message)


def generalise(message: str) -> str:
    """The message with its specifics (names, quoted text, numbers) replaced, for grouping."""
    text = strip_location(message)
    text = re.sub(r"`[^`]*`", "`X`", text)
    text = re.sub(r"(?<!\w)'[^']*'(?!\w)", "'X'", text)
    text = re.sub(r'(?<!\w)"[^"]*"(?!\w)', '"X"', text)
    text = re.sub(r"\b\d+(\.\d+)?\b", "N", text)
    text = re.sub(
        r"`X` \(read in cell N; no cell binds it\)(; `X` \(read in cell N; no cell binds it\))+",
        "`X` (read in cell N; no cell binds it)",
        text,
    )
    return text


def normalise_reason(message: str) -> str:
    """The category of a refusal message; the generalised message when no category fits.

    A magic keeps its name (`magic whose value the code needs: %run`): which magics the corpus
    uses is what the analysis needs to know.
    """
    general = generalise(message)
    for pattern, reason in REASONS:
        if re.search(pattern, general):
            if reason.startswith("magic"):
                found = _MAGIC_NAME.search(strip_location(message))
                magic = (found.group(1) or "x = !cmd") if found else ""
                return f"{reason}: {magic}" if magic else reason
            return reason
    return general


def python2_hint(code: str) -> bool:
    """Whether `code`, which does not parse, is Python 2 (print statements, `except E, e`, ...)."""
    python = python_of(code) or ""
    try:
        compile(python, "<cell>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        if "Missing parentheses in call to" in str(exc.msg):
            return True
    except ValueError:
        return False
    else:
        return False
    return any(_PYTHON2.search(line) for line in python.splitlines())


def refine_syntax(reason: str, message: str, notebook: dict[str, Any]) -> str:
    """Tell a Python 2 notebook's syntax error from others, by the cell the message names."""
    if reason != "syntax error":
        return reason
    found = re.match(r"cell (\d+)", message)
    cells = cells_of(notebook)
    if found is None or not 0 < int(found.group(1)) <= len(cells):
        return "syntax error"
    code = source_of(cells[int(found.group(1)) - 1])
    if python2_hint(code):
        return "syntax error (Python 2)"
    python = python_of(code)
    try:
        if python is not None:
            ast.parse(python)
            return "syntax error (code that parses once IPython syntax is removed)"
    except (SyntaxError, ValueError):
        pass
    return "syntax error (other)"


# --- running nb2prod ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one notebook of the corpus."""

    notebook: str
    code_cells: int = 0
    build: str = ""  # built, refused or crashed
    reason: str = ""
    message: str = ""
    build_seconds: float = 0.0
    warnings: int = 0
    modules: int = 0
    broken_modules: list[str] = field(default_factory=list)
    runnable: bool = False
    not_runnable_because: str = ""
    result: bool = False  # whether the last code cell shows a value (a trailing expression)
    verify: str = ""  # verified, mismatch, run() failed, run() timed out, not runnable, crashed
    verify_reason: str = ""
    verify_message: str = ""
    verify_seconds: float = 0.0


@dataclass(frozen=True)
class Task:
    """One notebook to measure, and how."""

    path: Path
    name: str
    nb2prod: Path
    verify: bool


@dataclass(frozen=True)
class Finished:
    """A command's exit status and output; `returncode` is None when it was stopped for its time."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


def run_command(command: Sequence[str], cwd: Path, timeout: float, env: dict[str, str]) -> Finished:
    """Run `command` in its own process group, killing the whole group if it takes too long."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        code = None
    return Finished(code, stdout, stderr, time.perf_counter() - start)


def crash_of(done: Finished, timeout: float) -> str | None:
    """Why a run of nb2prod counts as a crash (a bug in nb2prod), or None."""
    if done.returncode is None:
        return f"timeout: no answer within {timeout:g} s"
    if done.returncode < 0:
        return f"killed by signal {signal.Signals(-done.returncode).name}"
    if "Traceback (most recent call last)" in done.stderr:
        return "traceback on stderr"
    if "internal error" in done.stdout + done.stderr:
        return "internal error"
    if done.returncode not in (0, 1):
        return f"exit status {done.returncode}"
    return None


def copy_beside(source: Path, folder: Path) -> None:
    """Copy the data files of the notebook's folder (not notebooks, not hidden) into `folder`."""
    files = [
        p
        for p in source.parent.rglob("*")
        if p.is_file()
        and p.suffix != ".ipynb"
        and not any(part.startswith(".") for part in p.relative_to(source.parent).parts)
    ]
    if sum(p.stat().st_size for p in files) > MAX_DATA_BESIDE:
        return
    for path in files:
        target = folder / path.relative_to(source.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def compile_errors(build: Path) -> tuple[int, list[str]]:
    """How many generated modules there are, and those that do not compile (with the error)."""
    modules = sorted(p for p in build.rglob("*.py") if ".nb2prod_cache" not in p.parts)
    broken = []
    for module in modules:
        try:
            compile(module.read_text(encoding="utf-8"), str(module), "exec", dont_inherit=True)
        except (SyntaxError, ValueError, UnicodeDecodeError) as exc:
            broken.append(f"{module.relative_to(build).as_posix()}: {exc}")
    return len(modules), broken


def measure(task: Task) -> Outcome:
    """Build (and where it can run, verify) one notebook of the corpus, with every cell deploy."""
    outcome = Outcome(task.name)
    try:
        notebook = json.loads(task.path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        outcome.build, outcome.reason, outcome.message = "refused", "not JSON", str(exc)
        return outcome
    codes = code_sources(notebook)
    outcome.code_cells = len(codes)
    outcome.result = bool(codes) and shows_value(codes[-1])
    with tempfile.TemporaryDirectory(prefix="nb2prod-corpus-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        copy_beside(task.path, work)
        copied = work / task.path.name
        copied.write_text(json.dumps(mark_deploy(notebook), indent=1), encoding="utf-8")
        _build(task, outcome, notebook, copied, Path(tmp) / "build")
        if outcome.build == "built":
            outcome.runnable, outcome.not_runnable_because = runnable(codes)
            if task.verify and outcome.runnable:
                _verify(task, outcome, copied)
    return outcome


def _build(task: Task, outcome: Outcome, notebook: dict[str, Any], copied: Path, out: Path) -> None:
    command = [str(task.nb2prod), "build", copied.name, "--out", str(out), "--no-cache", "--quiet"]
    done = run_command(command, copied.parent, BUILD_TIMEOUT, dict(os.environ))
    outcome.build_seconds = round(done.seconds, 3)
    output = done.stdout + done.stderr
    outcome.warnings = sum(
        1
        for line in output.splitlines()
        if line.startswith(f"{copied.name}: ")
        and _is_warning(line.removeprefix(f"{copied.name}: "))
    )
    crash = crash_of(done, BUILD_TIMEOUT)
    if crash is not None:
        outcome.build, outcome.reason = "crashed", crash
        outcome.message = _excerpt(done.stderr or done.stdout)
    elif done.returncode == 1:
        outcome.build = "refused"
        outcome.message = message_of(output, copied.name)
        outcome.reason = refine_syntax(normalise_reason(outcome.message), outcome.message, notebook)
    else:
        outcome.modules, outcome.broken_modules = compile_errors(out)
        outcome.build = "built" if outcome.modules else "crashed"
        if not outcome.modules:
            outcome.reason = "exit status 0 but no module written"


def _verify(task: Task, outcome: Outcome, copied: Path) -> None:
    command = [str(task.nb2prod), "verify", copied.name, "--timeout", str(VERIFY_CELL_TIMEOUT)]
    command += ["--kernel", "python3"]
    env = {**os.environ, "MPLBACKEND": "Agg", "JUPYTER_PLATFORM_DIRS": "1"}
    done = run_command(command, copied.parent, VERIFY_TIMEOUT, env)
    outcome.verify_seconds = round(done.seconds, 3)
    outcome.verify, outcome.verify_reason, outcome.verify_message = classify_verify(
        done, copied.name
    )


def classify_verify(done: Finished, name: str) -> tuple[str, str, str]:
    """(verdict, reason, message) for one `nb2prod verify` run."""
    output = done.stdout + done.stderr
    if done.returncode is None:
        return "not runnable", "verify took over the overall limit", ""
    crash = crash_of(done, VERIFY_TIMEOUT)
    if crash is not None:
        return "crashed", crash, _excerpt(done.stderr or done.stdout)
    verdict = next((line for line in done.stdout.splitlines() if ": verified: " in line), None)
    if done.returncode == 0:
        return "verified", "", (verdict or "").removeprefix(f"{name}: ")
    if ": mismatch: " in done.stdout:
        return "mismatch", "mismatch", _excerpt(done.stdout.removeprefix(f"{name}: "), 6)
    message = message_of(output, name)
    text = strip_location(message)
    if text.startswith("the generated run() did not finish"):
        return "run() timed out", "run() timed out", message
    if text.startswith("the generated run()"):
        return "run() failed", generalise(message), message
    return "not runnable", _kernel_reason(text), message


def _kernel_reason(text: str) -> str:
    """Why the notebook's own cells did not run in the kernel: the exception, or the timeout."""
    raised = re.match(r"raised (\w+)", text)
    if raised:
        return f"raised {raised.group(1)}"
    if text.startswith("did not finish"):
        return "cell timeout"
    return generalise(text)


def _excerpt(text: str, lines: int = 12) -> str:
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


# --- the report ---------------------------------------------------------------------------------


def discover(dest: Path) -> list[Path]:
    """Every notebook under `dest`, in a stable order, skipping hidden and checkpoint folders."""
    return sorted(
        p
        for p in dest.rglob("*.ipynb")
        if not any(part.startswith(".") for part in p.relative_to(dest).parts)
    )


def measure_all(tasks: Sequence[Task], jobs: int) -> Iterator[Outcome]:
    """Measure every task in a pool of `jobs` processes, yielding outcomes as they finish."""
    if jobs == 1:
        yield from map(measure, tasks)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(measure, tasks)


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.0f}%)" if total else str(count)


def totals(outcomes: Sequence[Outcome], verified: bool) -> list[tuple[str, str]]:
    """The rows of the summary table."""
    total = len(outcomes)
    by_build = Counter(o.build for o in outcomes)
    built = [o for o in outcomes if o.build == "built"]
    runnables = [o for o in built if o.runnable]
    by_verify = Counter(o.verify for o in runnables)
    ran = len(runnables) - by_verify["not runnable"]
    rows = [
        ("notebooks", str(total)),
        ("built", _share(by_build["built"], total)),
        ("refused", _share(by_build["refused"], total)),
        ("crashed", _share(by_build["crashed"], total)),
        ("generated modules", str(sum(o.modules for o in built))),
        ("generated modules that do not compile", str(sum(len(o.broken_modules) for o in built))),
        ("built and runnable as plain scripts", str(len(runnables))),
    ]
    if not verified:
        return rows
    with_value = sum(1 for o in runnables if o.verify == "verified" and o.result)
    return [
        *rows,
        (
            "runnable, but the notebook's own cells fail in the kernel",
            str(by_verify["not runnable"]),
        ),
        ("runnable and ran in the kernel", str(ran)),
        ("verified: run() gives the notebook's result", _share(by_verify["verified"], ran)),
        ("verified, where the result is a value (not None)", str(with_value)),
        ("mismatch", str(by_verify["mismatch"])),
        ("run() failed", str(by_verify["run() failed"])),
        (
            f"run() timed out (over {VERIFY_CELL_TIMEOUT} s in all)",
            str(by_verify["run() timed out"]),
        ),
        ("verify crashed", str(by_verify["crashed"])),
    ]


def report(outcomes: Sequence[Outcome], seconds: float, verified: bool) -> str:
    """The Markdown report: totals, refusals by reason, crashes and the runnable notebooks."""
    built = [o for o in outcomes if o.build == "built"]
    refused = [o for o in outcomes if o.build == "refused"]
    runnables = [o for o in built if o.runnable]
    lines = [
        f"## nb2prod on {len(outcomes)} notebooks",
        "",
        f"Every code cell marked deploy; {seconds:.0f} s in all.",
        "",
        "| | notebooks |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in totals(outcomes, verified)),
    ]
    times = sorted(o.build_seconds for o in outcomes if o.build_seconds)
    if times:
        lines += [
            "",
            f"`nb2prod build` per notebook (the whole command, no cache): median "
            f"{statistics.median(times):.2f} s, 90th percentile "
            f"{times[int(0.9 * (len(times) - 1))]:.2f} s, slowest {times[-1]:.2f} s.",
        ]
    lines += _counted("Refusals by reason", [o.reason for o in refused])
    lines += _examples(refused, reasons=10, per_reason=3)
    lines += _listed("Crashes", [o for o in outcomes if o.build == "crashed"], "reason", "message")
    lines += _listed(
        "Modules that do not compile", [o for o in built if o.broken_modules], "broken_modules"
    )
    why = [o.not_runnable_because.split(",")[0] for o in built if not o.runnable]
    lines += _counted("Built but not runnable as plain scripts, why (first reason)", why, most=15)
    if verified:
        failing = [o.verify_reason for o in runnables if o.verify == "not runnable"]
        lines += _counted("Runnable, but the notebook's own cells fail", failing)
        problems = [o for o in runnables if o.verify not in ("verified", "not runnable")]
        lines += _listed(
            "Mismatches and failures of run(), and crashes of verify",
            problems,
            "verify",
            "verify_message",
        )
    return "\n".join(lines) + "\n"


def _counted(title: str, reasons: Sequence[str], most: int | None = None) -> list[str]:
    if not reasons:
        return []
    counts = Counter(reasons).most_common()
    rows = [f"| {r.replace('|', '/')} | {n} |" for r, n in counts[:most]]
    if most is not None and len(counts) > most:
        rows.append(f"| {len(counts) - most} other reasons | {sum(n for _, n in counts[most:])} |")
    return ["", f"### {title}", "", "| reason | count |", "|---|---:|", *rows]


def _examples(refused: Sequence[Outcome], reasons: int, per_reason: int) -> list[str]:
    """Up to `per_reason` messages, with their notebooks, for each of the commonest reasons."""
    lines = []
    for reason, count in Counter(o.reason for o in refused).most_common(reasons):
        lines += ["", f"**{reason}** ({count}):", ""]
        for outcome in [o for o in refused if o.reason == reason][:per_reason]:
            lines.append(f"- `{outcome.notebook}`: {_one_line(outcome.message)}")
    return ["", "### Examples of the commonest refusals", *lines] if lines else []


def _one_line(text: str, limit: int = 300) -> str:
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 3] + "..."


def _listed(title: str, outcomes: Sequence[Outcome], *fields: str) -> list[str]:
    if not outcomes:
        return []
    lines = ["", f"### {title}", ""]
    for outcome in outcomes:
        details = []
        for name in fields:
            value = getattr(outcome, name)
            details.append("; ".join(value) if isinstance(value, list) else str(value))
        first, *rest = details
        lines.append(f"- `{outcome.notebook}`: {first}")
        for text in rest:
            if text:
                lines += ["", "  ```", *(f"  {line}" for line in text.splitlines()), "  ```"]
    return lines


def run(args: argparse.Namespace) -> int:
    """Measure every notebook under --dest; print the report and write --json."""
    dest: Path = args.dest.resolve()
    paths = [p for p in discover(dest) if args.match is None or args.match in p.as_posix()]
    if not paths:
        print(
            f"no notebooks under {dest}; run `python benchmarks/corpus.py fetch` first",
            file=sys.stderr,
        )
        return 1
    nb2prod = Path(args.nb2prod)
    tasks = [Task(p, p.relative_to(dest).as_posix(), nb2prod, not args.no_verify) for p in paths]
    start = time.perf_counter()
    outcomes = []
    for count, outcome in enumerate(measure_all(tasks, args.jobs), 1):
        outcomes.append(outcome)
        status = outcome.build + (f", {outcome.verify}" if outcome.verify else "")
        print(f"[{count}/{len(tasks)}] {outcome.notebook}: {status}", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(report(outcomes, seconds, not args.no_verify))
    if args.json is not None:
        document = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "command": " ".join(["python", *sys.argv]),
            "seconds": round(seconds, 1),
            "notebooks": [asdict(o) for o in outcomes],
        }
        args.json.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("fetch", help="write the corpus's notebooks under --dest")
    get.add_argument(
        "--mirror", type=Path, default=Path("/work/.mirror"), help="local bare mirrors"
    )
    get.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    get.add_argument("--sources", type=Path, default=SOURCES)
    measure_ = commands.add_parser("run", help="build (and verify) every notebook under --dest")
    measure_.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    measure_.add_argument("--jobs", type=int, default=2, help="notebooks measured at once")
    measure_.add_argument("--json", type=Path, default=None, help="write every outcome here")
    measure_.add_argument("--nb2prod", default=str(DEFAULT_NB2PROD), help="the nb2prod command")
    measure_.add_argument("--match", default=None, help="only notebooks whose path contains this")
    measure_.add_argument("--no-verify", action="store_true", help="build only; run nothing")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return fetch(load_sources(args.sources), args.mirror, args.dest)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
