"""The runtime every generated package ships: JSON conversion, serializers, artifacts, a store.

Copied verbatim into generated packages (Python >= 3.10), so it imports only the standard library
when it loads; numpy, pandas, joblib and fsspec are imported by the functions that need them.

JSON, the one conversion for the CLI, the web API and an orchestrated run's `result.json`:
    json_value(value) -> Any        numpy and pandas values, dates, NaN -> null, else repr
    dumps(value) -> str             one JSON document of json_value(value)

One value in one file: JSON for plain builtins, `.npy` for plain arrays, joblib for the rest.
In the store between an orchestrator's tasks only (and `save_value`), cloudpickle, when it is
installed, saves by value what pickle saves only by name and cannot find again (a function made
inside a step, a lambda, an instance of a class defined in a function); train()'s artifacts never
use it, as such a function loads only under the Python version that saved it:
    save_value(folder, name, value) -> Artifact      file, sha256, type, size and serializer
    load_value(folder, artifact) -> value            the file checked against its record first

A folder of artifacts with its manifest.json (`train()` writes it, `load()` and /health read it):
    save_artifacts(folder, values, *, package, notebook_hash, fields, distributions) -> manifest
    load_artifacts(folder, *, package, notebook_hash) -> {name: value}, checked before loading
    read_manifest(folder) -> manifest

A package's command line reads options and reports failures in the notebook's terms:
    parse_text(text, kind, item) -> value   a Python literal or JSON, else the text; ValueError
                                            when it is not the kind of container asked for
    stdout_to_stderr()                      while it holds, what is printed goes to stderr
    failure_cell(error, pipeline, outside) -> the notebook cell of a traceback, from `# cell N`

Orchestrators (Airflow, Dagster, Prefect) pass step values through a store:
    Store(url).save_step(run_id, step, values) -> {name: url}; .load({name: url}) -> values
    Store(url).write_result(run_id, value) -> url; .read_result(run_id) -> JSON value
    configured_store(url) -> the Store of `url`, else of $NB2PROD_STORE
    path_component(run_id) -> a safe folder name for a run id such as `manual__...+00:00`
    StepSpec(name, inputs, outputs, changed_in_place, cells, result, sources, after, ...):
        one step as plain data: what it loads, from which step, what it hands on
    run_step(function, spec, store, run_id, input_paths, arguments) -> {name: url}: one step
    Pipeline(notebook, steps, functions, arguments, parameters): a package's steps;
        .run_task(name, store, run_id, handed, values) is one task of any engine, and
        .run_all(store, run_id, values) runs them all here, in order, through the store
    typed(value, kind, item) -> a JSON value as a parameter of that kind takes it

Errors: ArtifactError (a value that cannot be saved, or files that cannot be trusted or loaded;
`.name` is the value at fault, if one is), StepError (a step failed; names it and its cells).
A distribution installed in another version than recorded gives an ArtifactVersionWarning.

Serving, for packages built from notebooks with serve cells:
    save_trained(folder, values, ...) -> manifest   train()'s end: sizes reported, large ones
                                                    warned about (ArtifactSizeWarning)
    load_trained(folder, *, package, notebook_hash, names) -> ({name: value}, manifest)
    call_by_name(function, arguments) -> result     a JSON object's fields as the arguments
    score_lines(function, lines, write) -> count    JSON lines in, one JSON result per line out
    request_model(name, function) -> pydantic model of a function's arguments, from annotations
    arguments_of(model, body) / cases_of(model, body, limit) -> the arguments of one or many
    component_schemas(models) -> the OpenAPI schemas of request models and the types they use

The sha256 checks catch damaged, mixed-up and stale files. They are no signature: whoever can
write the folder can write its manifest too, so load only artifacts from a place you trust.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import importlib
import importlib.util
import json
import math
import os
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from pathlib import Path
from types import CodeType
from typing import IO, Any, TypeVar

MANIFEST = "manifest.json"
FORMAT = 1  # of manifest.json; a reader refuses a newer one rather than misread it
_SUFFIXES = {"json": ".json", "npy": ".npy", "joblib": ".joblib", "cloudpickle": ".pkl"}
_NPY_KINDS = frozenset("biufcmMSU")  # dtypes numpy.save writes without pickle
_RESERVED = frozenset({"format", "package", "notebook_sha256", "created", "python"})
_RESERVED |= {"distributions", "artifacts"}
_CHUNK = 1 << 20
_T = TypeVar("_T")
_Values = Mapping[str, object]


class ArtifactError(Exception):
    """A value that cannot be saved, or saved values that cannot be trusted or loaded.

    `name` is the value at fault, when one is, so that a caller can name its notebook cell.
    """

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class StepError(Exception):
    """A step function raised: the message names the step and its cells; the cause is chained."""

    def __init__(self, message: str, *, step: str, cells: tuple[int, ...]) -> None:
        super().__init__(message)
        self.step = step
        self.cells = cells


class ArtifactVersionWarning(UserWarning):
    """A distribution's installed version differs from the one the artifacts were saved with."""


# --- JSON ------------------------------------------------------------------------------------


def json_value(value: object) -> Any:
    """A value as JSON values: arrays and series as lists, frames as lists of records.

    Dates and times become ISO text, durations seconds, NaN, infinities and missing values null,
    sets sorted lists (when their items sort), dict keys text; anything else its repr.
    """
    # numpy and pandas are looked up, never imported: a value of theirs implies they are loaded.
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        converted = _from_pandas(pandas, value)
        if converted is not _NOT_THEIRS:
            return converted
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        converted = _from_numpy(numpy, value)
        if converted is not _NOT_THEIRS:
            return converted
    return _from_builtin(value)


_NOT_THEIRS = object()  # the value is not of this library's types


def _from_pandas(pandas: Any, value: object) -> Any:
    if isinstance(value, pandas.DataFrame):
        return json_value(value.to_dict(orient="records"))
    listed = pandas.Series | pandas.Index | pandas.api.extensions.ExtensionArray
    if isinstance(value, listed):
        return json_value(value.tolist())
    if value is pandas.NA or value is pandas.NaT:  # NaT has an isoformat(): "NaT"
        return None
    return _NOT_THEIRS


def _from_numpy(numpy: Any, value: object) -> Any:
    if isinstance(value, numpy.ndarray):
        if value.dtype.kind in "mM":  # tolist() gives nanosecond dates as bare integers
            return [json_value(item) for item in value]
        return json_value(value.tolist())
    if isinstance(value, numpy.datetime64):
        return None if numpy.isnat(value) else str(numpy.datetime_as_string(value))
    if isinstance(value, numpy.timedelta64):
        return None if numpy.isnat(value) else float(value / numpy.timedelta64(1, "s"))
    if isinstance(value, numpy.generic):
        return json_value(value.item())
    return _NOT_THEIRS


def _from_builtin(value: object) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(key): json_value(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return _ordered(value)
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, datetime.timedelta):  # pandas.Timedelta too
        return value.total_seconds()
    # datetime and pandas.Timestamp are dates too
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return repr(value)


def _key(key: object) -> str:
    """A dict key as JSON's text: its JSON text form where it has one (dates), else str()."""
    if isinstance(key, str):
        return key
    converted = json_value(key)
    return converted if isinstance(converted, str) else str(key)


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    """A set's items in sorted order, so that equal sets give equal JSON."""
    try:
        return [json_value(item) for item in sorted(items)]
    except TypeError:  # mixed types: ordered by their JSON text instead
        return sorted((json_value(item) for item in items), key=json.dumps)


def dumps(value: object) -> str:
    """One JSON document holding json_value(value)."""
    return json.dumps(json_value(value), allow_nan=False)


# --- command lines ---------------------------------------------------------------------------


def parse_text(text: str, kind: type | None = None, item: type | None = None) -> Any:
    """A value as users type it: a Python literal or JSON (`{'a': 1}`, `[1, 2]`), else the text.

    With `kind` (list, tuple, set or dict) the value must be one, with items of type `item`
    when that is given (an int will do for a float); a list, tuple or set becomes `kind`.
    ValueError otherwise, saying what was expected.
    """
    value: Any = _literal_or_json(text)
    if kind is None:
        return value
    if kind is not dict and isinstance(value, list | tuple | set):
        value = kind(value)
    if isinstance(value, kind) and _holds_only(value, item):
        return value
    wanted = kind.__name__ + (f" of {item.__name__}" if item is not None else "")
    raise ValueError(f"{text!r} is not a {wanted}; give it as JSON or a Python literal")


def _literal_or_json(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(text)
    except ValueError:
        return text


def _holds_only(values: Any, item: type | None) -> bool:
    return item is None or all(_is_a(value, item) for value in values)


def _is_a(value: object, kind: type) -> bool:
    """Whether an item has the type asked for; a bool is no number, an int will do for a float."""
    if isinstance(value, bool) or kind is bool:
        return isinstance(value, bool) and kind is bool
    return isinstance(value, int | float) if kind is float else isinstance(value, kind)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While it holds, what is printed goes to stderr, so that stdout holds only a result:
    Python's prints, and what extensions and subprocesses write to file descriptor 1."""
    sys.stdout.flush()
    saved = _descriptor_to_stderr()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _descriptor_to_stderr() -> int | None:
    """Point descriptor 1 at stderr's when sys.stdout writes to it; a copy of the old one."""
    try:
        if sys.stdout.fileno() != 1:
            return None
        saved = os.dup(1)
        os.dup2(sys.stderr.fileno(), 1)
        return saved
    except (OSError, ValueError):  # no descriptors: stdout replaced, as test runners do
        return None


def failure_cell(
    error: BaseException, pipeline: str, outside: Iterable[CodeType] = ()
) -> int | None:
    """The notebook cell a failure happened in, or None: the `# cell N` marker nearest above
    the innermost line of the file `pipeline` that the traceback passes through, leaving out
    the functions `outside` (those that chain the steps, which are in no cell)."""
    import linecache

    skipped = tuple(outside)
    line = None
    trace = error.__traceback__
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_filename == pipeline and all(code is not s for s in skipped):
            line = trace.tb_lineno
        trace = trace.tb_next
    if line is None:
        return None
    for text in reversed(linecache.getlines(pipeline)[:line]):
        words = text.split()
        if len(words) == 3 and words[:2] == ["#", "cell"] and words[2].isdigit():
            return int(words[2])
    return None


# --- one value in a file ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Artifact:
    """What a saved value's manifest entry records."""

    file: str  # a bare file name in the artifact's folder
    sha256: str
    type: str  # the value's type as `module.qualname`
    size: int  # in bytes
    serializer: str  # "json", "npy", "joblib" or "cloudpickle"

    def to_json(self) -> dict[str, object]:
        """The manifest entry."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, where: str, name: str, entry: object) -> Artifact:
        """A manifest entry read back; ArtifactError when it is malformed or leaves its folder."""
        if isinstance(entry, dict):
            file, sha256 = entry.get("file"), entry.get("sha256")
            size = entry.get("size")
            kind, serializer = entry.get("type"), entry.get("serializer")
            if (
                _bare_file_name(file)
                and isinstance(sha256, str)
                and re.fullmatch(r"[0-9a-f]{64}", sha256)
                and isinstance(size, int)
                and not isinstance(size, bool)
                and isinstance(kind, str)
                and serializer in _SUFFIXES
            ):
                return cls(str(file), sha256, kind, size, str(serializer))
        message = f"{where}: the entry of `{name}` is malformed; save again"
        raise ArtifactError(message, name=name)


def _bare_file_name(file: object) -> bool:
    """A name that stays inside its folder: no separators, no leading dot, not the manifest."""
    return (
        isinstance(file, str)
        and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", file) is not None
        and file.lower() != MANIFEST
    )


class _Hashing:
    """Passes bytes on to a file, hashing and counting them on the way."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        # pickle hands large payloads over as memoryviews
        size = memoryview(data).nbytes
        self.digest.update(data)
        self.size += size
        self._file.write(data)
        return size

    # joblib aligns arrays by it; the file is written from its start
    def tell(self) -> int:
        return self.size


_Writer = Callable[[Any], object]


def _serializer(name: str, value: object) -> tuple[str, _Writer]:
    """The format of a value and the function writing it to a binary file."""
    text = _plain_json(value)
    if text is not None:
        return "json", lambda file: file.write(text)
    numpy = sys.modules.get("numpy")  # an array implies numpy is loaded
    if numpy is not None and _plain_array(numpy, value):
        return "npy", lambda file: numpy.save(file, value, allow_pickle=False)
    joblib = _require("joblib", f"to save `{name}`", name=name)
    return "joblib", lambda file: joblib.dump(value, file)


def _plain_json(value: object) -> bytes | None:
    """The value as JSON if JSON gives it back exactly (no tuples, NaN or subclasses), else None."""
    try:
        if _json_exact(value):
            return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
    # a cycle, a huge int, a lone surrogate: not plain
    except (RecursionError, ValueError):
        pass
    return None


def _json_exact(value: object) -> bool:
    """Exact types only: a numpy float is a float, an IntEnum an int, but neither comes back."""
    if isinstance(value, float):
        return type(value) is float and math.isfinite(value)
    if isinstance(value, list):
        return type(value) is list and all(_json_exact(item) for item in value)
    if isinstance(value, dict):
        return type(value) is dict and all(
            type(key) is str and _json_exact(item) for key, item in value.items()
        )
    return value is None or type(value) in (str, int, bool)


def _plain_array(numpy: Any, value: object) -> bool:
    """An ndarray itself (not a subclass) of numbers, dates or text: .npy keeps it exactly."""
    array: Any = value
    return type(array) is numpy.ndarray and array.dtype.kind in _NPY_KINDS


def _require(module: str, purpose: str, *, name: str | None = None) -> Any:
    """Import an optional dependency, or say which one is missing and what it is needed for."""
    try:
        return importlib.import_module(module)
    except ImportError:
        message = f"{module} is needed {purpose}: pip install {module}"
        raise ArtifactError(message, name=name) from None


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one value is to be saved: its format, the function writing it, its file name."""

    name: str
    value: object
    serializer: str
    writer: _Writer
    file: str

    @classmethod
    def of(cls, name: str, value: object, taken: set[str]) -> _Plan:
        serializer, writer = _serializer(name, value)
        return cls(name, value, serializer, writer, _file_name(name, serializer, taken))

    def by_value(self, taken: set[str]) -> _Plan | None:
        """The value for cloudpickle, which saves by value the functions and classes that
        pickle can only name (made inside a step, lambdas); None without cloudpickle."""
        installed = importlib.util.find_spec("cloudpickle") is not None
        if self.serializer != "joblib" or not installed:
            return None
        cloudpickle = importlib.import_module("cloudpickle")
        value = self.value
        file = _file_name(self.name, "cloudpickle", taken)
        write = lambda out: cloudpickle.dump(value, out)  # noqa: E731
        return _Plan(self.name, value, "cloudpickle", write, file)

    def write(self, out: IO[bytes]) -> Artifact:
        """Write the value to `out` and record it; ArtifactError naming the value if it cannot."""
        hashing = _Hashing(out)
        try:
            self.writer(hashing)
        # pickling raises whatever the object's own methods raise
        except Exception as exc:
            message = f"cannot save `{self.name}`: {_reason(exc)}"
            raise ArtifactError(message, name=self.name) from exc
        kind = f"{type(self.value).__module__}.{type(self.value).__qualname__}"
        sha256 = hashing.digest.hexdigest()
        return Artifact(self.file, sha256, kind, hashing.size, self.serializer)


_Put = Callable[[_Plan], Artifact]


def _written(
    plan: _Plan,
    taken: set[str],
    put: _Put,
    *,
    by_value: bool = True,
) -> Artifact:
    """`put(plan)`, or, when pickle cannot save the value and `by_value`, `put` of cloudpickle's
    plan for it.

    `put` writes a plan's file whole or not at all, so a failed attempt leaves nothing behind.
    """
    try:
        return put(plan)
    except ArtifactError as error:
        other = plan.by_value(taken) if by_value else None
        if other is None:
            raise
        try:
            return put(other)
        except ArtifactError:
            raise error from None  # pickle's reason: cloudpickle could not do better


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _file_name(name: str, serializer: str, taken: set[str]) -> str:
    """`<name><suffix>`, unique in its folder even where file names ignore case."""
    # values are notebook names; anything else could leave the folder
    if not name.isidentifier():
        raise ValueError(f"not a Python name: {name!r}")
    stem, suffix, number = name, _SUFFIXES[serializer], 1
    # `manifest` as JSON, `Model` beside `model`
    while f"{stem}{suffix}".lower() in taken:
        number += 1
        stem = f"{name}-{number}"
    taken.add(f"{stem}{suffix}".lower())
    return f"{stem}{suffix}"


def _check(where: str, artifact: Artifact, file: IO[bytes]) -> None:
    """Compare a file's bytes with its record, reading it in chunks and unpickling nothing."""
    digest, size = hashlib.sha256(), 0
    while chunk := file.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if size != artifact.size or digest.hexdigest() != artifact.sha256:
        changed = "sha256 mismatch; the file changed since it was saved"
        raise ArtifactError(f"{where}: {changed}")


def _decode(where: str, artifact: Artifact, file: IO[bytes]) -> object:
    """The value in a checked file; ArtifactError when its code cannot be imported or it fails."""
    try:
        if artifact.serializer == "json":
            return json.loads(file.read())
        if artifact.serializer == "npy":
            return _require("numpy", f"to load {where}").load(file, allow_pickle=False)
        if artifact.serializer == "cloudpickle":
            return _require("cloudpickle", f"to load {where}").load(file)
        return _require("joblib", f"to load {where}").load(file)
    except ArtifactError:
        raise
    except Exception as exc:  # a class that moved, a module not installed
        message = f"{where}: cannot load {artifact.type}: {_reason(exc)}"
        raise ArtifactError(message) from exc


def save_value(folder: str | os.PathLike[str], name: str, value: object) -> Artifact:
    """Save one value as `<folder>/<name><suffix>`: written beside it, synced, then renamed."""
    taken = {MANIFEST}
    plan = _Plan.of(name, value, taken)
    return _written(plan, taken, lambda chosen: _save_file(Path(folder), chosen))


def _save_file(folder: Path, plan: _Plan) -> Artifact:
    temporary = folder / f".{plan.file}.{os.urandom(6).hex()}.tmp"
    try:
        with open(temporary, "wb") as out:
            artifact = plan.write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / plan.file)
    finally:
        temporary.unlink(missing_ok=True)
    return artifact


def load_value(folder: str | os.PathLike[str], artifact: Artifact) -> object:
    """Load one saved value, after its file's size and sha256 match the record."""
    path = Path(folder) / artifact.file
    _check_path(path, artifact)
    return _load_checked(path, artifact)


def _load_checked(path: Path, artifact: Artifact) -> object:
    with open(path, "rb") as file:
        return _decode(path.as_posix(), artifact, file)


def _check_path(path: Path, artifact: Artifact) -> None:
    try:
        with open(path, "rb") as file:
            _check(path.as_posix(), artifact, file)
    except FileNotFoundError:
        raise ArtifactError(f"{path.as_posix()}: missing; save again") from None


# --- an artifacts folder ---------------------------------------------------------------------


def save_artifacts(
    folder: str | os.PathLike[str],
    values: Mapping[str, object],
    *,
    package: str,
    notebook_hash: str | None = None,
    fields: Mapping[str, object] | None = None,
    distributions: Iterable[str] = (),
) -> dict[str, Any]:
    """Save each value in `folder` with `manifest.json`, replacing the folder whole; the manifest.

    Everything is written to a sibling folder, synced and swapped in, so a failure leaves the
    previous folder as it was. `fields` (notebook path, versions, parameters) go into the
    manifest as JSON; `distributions`, and those the files' formats need to load (joblib,
    numpy), are recorded with their installed versions (null if none).
    """
    target = Path(folder)
    _check_replaceable(target)
    clash = _RESERVED & set(fields or {})
    if clash:
        reserved = ", ".join(sorted(clash))
        raise ValueError(f"manifest fields reserved for the runtime: {reserved}")
    staging = target.with_name(f".{target.name}.new-{os.urandom(6).hex()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        artifacts = _save_all(staging, values)
        needed = _with_serializers(distributions, artifacts)
        manifest = {
            "format": FORMAT,
            "package": package,
            "notebook_sha256": notebook_hash,
            **{key: json_value(item) for key, item in (fields or {}).items()},
            "created": _now(),
            "python": ".".join(str(part) for part in sys.version_info[:3]),
            "distributions": {name: _installed(name) for name in needed},
            "artifacts": {name: entry.to_json() for name, entry in artifacts.items()},
        }
        text = json.dumps(manifest, indent=2) + "\n"
        _write_synced(staging / MANIFEST, text.encode())
        _sync_folder(staging)
        _swap_in(staging, target)
    except OSError as exc:
        raise ArtifactError(
            f"cannot save artifacts in {target.as_posix()}: {_reason(exc)}"
        ) from exc
    finally:
        _discard(staging)
    return manifest


# The distribution each serializer needs to load a file again (JSON needs none).
_SERIALIZER_DISTRIBUTIONS = {
    "npy": "numpy",
    "joblib": "joblib",
    "cloudpickle": "cloudpickle",
}


def _with_serializers(names: Iterable[str], saved: Mapping[str, Artifact]) -> list[str]:
    """`names`, then the distributions the saved files' formats need, each once: a server with
    another joblib than at training is warned about too."""
    used = [_SERIALIZER_DISTRIBUTIONS.get(entry.serializer) for entry in saved.values()]
    return list(dict.fromkeys([*names, *(name for name in used if name is not None)]))


def _now() -> str:
    """The time in UTC as ISO text; datetime.UTC would need Python 3.11."""
    utc = datetime.timezone.utc  # noqa: UP017
    return datetime.datetime.now(utc).isoformat(timespec="seconds")


def _check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that is not an artifacts folder: it would be deleted whole."""
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise ArtifactError(
            f"{target.as_posix()}: holds files but no {MANIFEST}, so it is not an artifacts "
            "folder; choose an empty or new folder"
        )
    if target.exists() and not target.is_dir():
        raise ArtifactError(f"{target.as_posix()}: exists and is not a folder")


def _save_all(folder: Path, values: Mapping[str, object]) -> dict[str, Artifact]:
    """Artifacts in formats any process with the package loads: no cloudpickle by value, whose
    functions load only under the Python version that saved them."""
    taken = {MANIFEST}
    plans = [_Plan.of(name, value, taken) for name, value in values.items()]
    put: _Put = lambda p: _save_file(folder, p)  # noqa: E731
    saved = {}
    for plan in plans:
        saved[plan.name] = _written(plan, taken, put, by_value=False)
    return saved


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _sync_folder(folder: Path) -> None:
    """Make a folder's entries durable; without it a crash can lose files or a rename (POSIX)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _swap_in(staging: Path, target: Path) -> None:
    """Put `staging` in `target`'s place; `staging` ends up holding what is to be discarded."""
    if target.is_dir() and not target.is_symlink() and _exchange(staging, target):
        return
    retired = staging.with_name(staging.name.replace(".new-", ".old-"))
    if target.exists() or target.is_symlink():
        os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        if retired.exists() or retired.is_symlink():
            os.rename(retired, target)
        raise
    _discard(retired)
    _sync_folder(target.parent)


def _exchange(new: Path, old: Path) -> bool:
    """Swap two folders in one step (Linux renameat2), so `old` never goes missing; else False."""
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    # not Linux: no such call, or no libc by None
    except (OSError, AttributeError, TypeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    new_path, old_path = os.fsencode(new), os.fsencode(old)
    done = renameat2(at_fdcwd, new_path, at_fdcwd, old_path, rename_exchange)
    if done == 0:
        _sync_folder(old.parent)
    return bool(done == 0)


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.is_symlink() or path.exists():
        path.unlink()


def _installed(distribution: str) -> str | None:
    import importlib.metadata  # slow to import, and only training and loading need it

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of an artifacts folder, checked for form; ArtifactError when it is unusable."""
    path = Path(folder) / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(
            f"{path.as_posix()}: missing: not an artifacts folder, or saving did not finish; "
            "save (train) again"
        ) from None
    except OSError as exc:
        raise ArtifactError(f"{path.as_posix()}: cannot read: {_reason(exc)}") from exc
    return _parse_manifest(path.as_posix(), data)


def _parse_manifest(where: str, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise ArtifactError(f"{where}: not valid JSON ({exc}); save again") from None
    no_artifacts = f"{where}: not a manifest (no artifacts); save again"
    if not isinstance(manifest, dict):
        raise ArtifactError(no_artifacts)
    if not isinstance(manifest.get("artifacts"), dict):
        raise ArtifactError(no_artifacts)
    version = manifest.get("format")
    if not isinstance(version, int):
        raise ArtifactError(f"{where}: not a manifest (no format); save again")
    if version > FORMAT:
        newer = f"manifest format {version} is newer than this runtime's"
        raise ArtifactError(f"{where}: {newer}")
    _records(where, manifest)  # every entry well formed before anyone relies on it
    return manifest


def _records(where: str, manifest: Mapping[str, Any]) -> dict[str, Artifact]:
    entries = manifest["artifacts"].items()
    return {name: Artifact.from_json(where, name, entry) for name, entry in entries}


def load_artifacts(
    folder: str | os.PathLike[str], *, package: str, notebook_hash: str | None = None
) -> dict[str, object]:
    """The saved values, once the manifest says they are this package's and every file matches.

    All checks come before anything is unpickled. A distribution installed in another version
    than the one recorded is warned about (ArtifactVersionWarning), not refused.
    """
    root = Path(folder)
    manifest = read_manifest(root)
    where = (root / MANIFEST).as_posix()
    if manifest.get("package") != package:
        raise ArtifactError(
            f"{where}: saved by package `{manifest.get('package')}`, not `{package}`; "
            "train this package"
        )
    recorded = manifest.get("notebook_sha256")
    if notebook_hash is not None and recorded != notebook_hash:
        raise ArtifactError(
            f"{where}: saved from another version of the notebook (sha256 {str(recorded)[:12]}, "
            f"this package: {notebook_hash[:12]}); train again"
        )
    artifacts = _records(where, manifest)
    for artifact in artifacts.values():
        _check_path(root / artifact.file, artifact)
    _warn_versions(where, manifest.get("distributions"))
    return {name: _load_checked(root / a.file, a) for name, a in artifacts.items()}


def _warn_versions(where: str, recorded: object) -> None:
    if not isinstance(recorded, dict):
        return
    for distribution, version in recorded.items():
        installed = _installed(distribution)
        if version is not None and installed != version:
            warnings.warn(
                f"{where}: saved with {distribution} {version}, but "
                f"{installed or 'none'} is installed; the values may load or behave "
                f"differently: install {distribution}=={version} or train again",
                ArtifactVersionWarning,
                stacklevel=3,
            )


# --- a store for orchestrators ---------------------------------------------------------------


def path_component(text: str) -> str:
    """A run id as one safe path component, the same every time; distinct ids stay distinct.

    Letters, digits, `_`, `-` and inner dots are kept; with anything else replaced, a short hash
    of the original keeps `a:b` and `a+b` apart (`manual__2024-05-01T10_00_00_00_00-1a2b3c4d`).
    """
    if not text:
        raise ValueError("an empty run id")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", text)
    safe = re.sub(r"^\.", "_", safe)  # never `.`, `..` or a hidden file
    if safe == text and len(text) <= 100:
        return text
    return f"{safe[:100]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


STORE_ENV = "NB2PROD_STORE"


def configured_store(url: str | None = None, *, setting: str = "its store") -> Store:
    """The store a run names (`url`), else the one `$NB2PROD_STORE` names where this runs.

    The environment is read by the process that runs the step: on a cluster, each worker's.
    """
    chosen = url or os.environ.get(STORE_ENV)
    if not chosen:
        raise ArtifactError(
            f"no store: set {setting} or ${STORE_ENV} to an fsspec URL (a folder, "
            "s3://bucket/prefix, gs://...) that every worker can reach"
        )
    return Store(chosen)


class Store:
    """Step values in files under any fsspec URL: a local folder, `memory://`, `s3://`, `gs://`.

    `<url>/<run_id>/<step>/` holds a step's values and a manifest with each file's sha256;
    `<url>/<run_id>/result.json` the run's result.
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        self._fsspec = _require("fsspec", f"for the store {url}")
        self.url = url
        self.fs, root = self._fsspec.core.url_to_fs(url, **storage_options)
        self.root = str(root).rstrip("/")

    def save_step(self, run_id: str, step: str, values: _Values) -> dict[str, str]:
        """Save a step's values with their manifest; the URL of each value's file."""
        if not step.isidentifier():
            raise ValueError(f"not a step name: {step!r}")
        folder = f"{self.root}/{path_component(run_id)}/{step}"
        self.fs.makedirs(folder, exist_ok=True)
        taken = {MANIFEST}
        plans = [_Plan.of(name, value, taken) for name, value in values.items()]
        put: _Put = lambda p: self._put(f"{folder}/{p.file}", p.write)  # noqa: E731
        artifacts: dict[str, Artifact] = {}
        for plan in plans:
            artifacts[plan.name] = _written(plan, taken, put)
        manifest = {
            "format": FORMAT,
            "run_id": run_id,
            "step": step,
            "artifacts": {name: entry.to_json() for name, entry in artifacts.items()},
        }
        data = (json.dumps(manifest, indent=2) + "\n").encode()
        self._put(f"{folder}/{MANIFEST}", lambda out: out.write(data))
        return {name: self._url(f"{folder}/{a.file}") for name, a in artifacts.items()}

    def load(self, paths: Mapping[str, str]) -> dict[str, object]:
        """The values at these URLs, once every file matches its step's manifest."""
        located = {name: self._locate(url) for name, url in paths.items()}
        for path, artifact in located.values():
            with self.fs.open(path, "rb") as file:
                _check(self._url(path), artifact, file)
        values = {}
        for name, (path, artifact) in located.items():
            with self.fs.open(path, "rb") as file:
                values[name] = _decode(self._url(path), artifact, file)
        return values

    def _locate(self, url: str) -> tuple[str, Artifact]:
        """A value's path in this store and its record in the manifest beside it."""
        path = str(self._fsspec.core.strip_protocol(url))
        folder, _, file = path.rpartition("/")
        if not path.startswith(f"{self.root}/") or not _bare_file_name(file):
            raise ArtifactError(f"{url}: not a value file of the store {self.url}")
        where = self._url(f"{folder}/{MANIFEST}")
        try:
            with self.fs.open(f"{folder}/{MANIFEST}", "rb") as handle:
                manifest = _parse_manifest(where, handle.read())
        except FileNotFoundError:
            raise ArtifactError(f"{where}: missing; run the step again") from None
        for artifact in _records(where, manifest).values():
            if artifact.file == file:
                return path, artifact
        raise ArtifactError(f"{url}: not in {where}; run the step again")

    def write_result(self, run_id: str, value: object) -> str:
        """Write the run's result as JSON to `<url>/<run_id>/result.json`; its URL."""
        folder = f"{self.root}/{path_component(run_id)}"
        self.fs.makedirs(folder, exist_ok=True)
        data = (dumps(value) + "\n").encode()
        self._put(f"{folder}/result.json", lambda out: out.write(data))
        return self._url(f"{folder}/result.json")

    def read_result(self, run_id: str) -> Any:
        """The JSON value write_result wrote for this run."""
        path = f"{self.root}/{path_component(run_id)}/result.json"
        with self.fs.open(path, "rb") as file:
            return json.loads(file.read())

    def _put(self, path: str, write: Callable[[IO[bytes]], _T]) -> _T:
        """Write a file under a temporary name, then move it into place.

        No reader sees a file half written: the move is a rename on a local disk, and closing
        a remote file publishes whatever was written, which a failure leaves at the temporary name.
        """
        temporary = f"{path}.{os.urandom(6).hex()}.tmp"
        try:
            with self.fs.open(temporary, "wb") as out:
                result = write(out)
            self.fs.mv(temporary, path)
        except BaseException:
            # the original error matters, not this one
            with contextlib.suppress(Exception):
                self.fs.rm(temporary)
            raise
        return result

    def _url(self, path: str) -> str:
        return str(self.fs.unstrip_protocol(path))


# --- the step contract -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StepSpec:
    """One step as an orchestrator task sees it; an emitter fills it in from the pipeline's plan.

    The step function takes `inputs` positionally, in order, and returns `outputs` (one value
    plainly, several as a tuple). `changed_in_place` are inputs the step may change, handed on
    like outputs. `result` names the run's result: an output, or, when it is none of them, one
    more value the function returns after the outputs. The `final` step (and one with a
    `result`) writes the run's `result.json`: the result, or null when the pipeline has none.

    `sources` pairs each stored input with the step whose folder holds it: the last one before
    this step that returned it or changed it in place. Inputs without a source are the
    pipeline's parameters. `after` are more steps to wait for without reading their values.
    `cells` are the step's notebook cells; `bound_in` the cell where each value the step hands
    on was last bound or changed, for messages. `unsaved` are outputs that no later task reads
    (values only the package's tests or train() keep): returned, but not saved.
    """

    name: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    changed_in_place: tuple[str, ...] = ()
    unsaved: tuple[str, ...] = ()
    cells: tuple[int, ...] = ()
    result: str | None = None
    sources: tuple[tuple[str, str], ...] = ()
    after: tuple[str, ...] = ()
    bound_in: tuple[tuple[str, int], ...] = ()
    final: bool = False

    def __post_init__(self) -> None:
        stray = set(self.changed_in_place) - set(self.inputs)
        if stray:
            message = f"changed in place but not inputs: {sorted(stray)}"
            raise ValueError(f"step {self.name}: {message}")
        if not set(self.unsaved) <= set(self.outputs):
            raise ValueError(f"step {self.name}: unsaved values that are not outputs")
        unread = {name for name, _ in self.sources} - set(self.inputs)
        if unread:
            raise ValueError(
                f"step {self.name}: sources of values it does not read: {sorted(unread)}"
            )

    @property
    def returned(self) -> tuple[str, ...]:
        """The names of what the function returns, in order."""
        if self.result is not None and self.result not in self.outputs:
            return (*self.outputs, self.result)
        return self.outputs

    @property
    def upstream(self) -> tuple[str, ...]:
        """The steps this one runs after: those it loads values from, then `after`."""
        return tuple(dict.fromkeys([*(step for _, step in self.sources), *self.after]))

    @property
    def writes_result(self) -> bool:
        return self.final or self.result is not None

    def where(self, notebook: str | None = None, cell: int | None = None) -> str:
        """Where a message about the step points: `churn.ipynb: cell 6: step `train``.

        `cell` when one cell is known (where a value was bound, where an exception was raised),
        else the step's cells.
        """
        cells = (cell,) if cell is not None else self.cells
        parts = [notebook] if notebook else []
        if cells:
            plural = "s" if len(cells) > 1 else ""
            parts.append(f"cell{plural} {', '.join(str(c) for c in cells)}")
        parts.append(f"step `{self.name}`")
        return ": ".join(parts)


def run_step(
    function: Callable[..., Any],
    spec: StepSpec,
    store: Store,
    run_id: str,
    input_paths: Mapping[str, str],
    arguments: Mapping[str, object] | None = None,
    *,
    notebook: str | None = None,
) -> dict[str, str]:
    """Run one step on values from the store; the URLs of what it hands on.

    Inputs are loaded from `input_paths` (their URLs, as earlier steps handed them on), or else
    taken from `arguments` (the run's parameters). The outputs and the inputs the step changed
    in place are saved under `<run_id>/<spec.name>/`; the final step writes `result.json`.
    Failures raise StepError or ArtifactError with one line in the notebook's terms: `notebook`,
    the cell, the step, and what went wrong.
    """
    given = arguments or {}
    stored = [name for name in spec.inputs if name in input_paths]
    missing = [name for name in spec.inputs if name not in stored and name not in given]
    if missing:
        where = spec.where(notebook)
        raise _step_error(spec, f"{where}: no stored value for {', '.join(missing)}")
    loaded = store.load({name: input_paths[name] for name in stored})
    values = [loaded[name] if name in loaded else given[name] for name in spec.inputs]
    returned = _named(spec, _call(function, spec, values, notebook), notebook)
    # A value changed in place is handed on as it is now; an output of the same name wins.
    inputs = dict(zip(spec.inputs, values, strict=True))
    handed = {name: inputs[name] for name in spec.changed_in_place} | returned
    if spec.result is not None and spec.result not in spec.outputs:
        del handed[spec.result]  # the result alone: no later step reads it
    for name in spec.unsaved:
        if name not in spec.changed_in_place:
            del handed[name]
    paths = _save_handed(spec, store, run_id, handed, notebook)
    # last, so that result.json marks a run whose steps all ended
    if spec.writes_result:
        result = returned[spec.result] if spec.result is not None else None
        store.write_result(run_id, result)
    return paths


def _save_handed(
    spec: StepSpec,
    store: Store,
    run_id: str,
    handed: Mapping[str, object],
    notebook: str | None,
) -> dict[str, str]:
    """Save what a step hands on; an unsaveable value is named with its cell."""
    try:
        return store.save_step(run_id, spec.name, handed)
    except ArtifactError as exc:
        cell = dict(spec.bound_in).get(exc.name) if exc.name is not None else None
        advice = (
            "; a value that later steps read must be saveable (JSON, an array, what pickle or "
            "cloudpickle saves): make it in the step that uses it, or hand on what it is made of"
            if exc.name is not None
            else ""
        )
        message = f"{spec.where(notebook, cell)}: {exc}{advice}"
        raise ArtifactError(message, name=exc.name) from exc


def _call(
    function: Callable[..., Any],
    spec: StepSpec,
    arguments: list[object],
    notebook: str | None,
) -> object:
    """Call the step function; StepError naming the cell and the step when it raises."""
    try:
        value = function(*arguments)
        # an `async def` step, as top-level await makes
        if isinstance(value, Coroutine):
            import asyncio

            value = asyncio.run(value)
    except Exception as exc:
        code = getattr(function, "__code__", None)  # the cell: from the step's module
        cell = failure_cell(exc, code.co_filename) if code is not None else None
        where = spec.where(notebook, cell)
        text = " ".join(str(exc).split())[:500]
        what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        raise _step_error(spec, f"{where} failed: {what}") from exc
    return value


def _named(spec: StepSpec, value: object, notebook: str | None) -> dict[str, object]:
    """What the step returned, by name: one value plainly, several as a tuple."""
    names = spec.returned
    if len(names) == 0:
        return {}
    if len(names) == 1:
        return {names[0]: value}
    if not isinstance(value, tuple) or len(value) != len(names):
        got = type(value).__name__
        if isinstance(value, tuple):
            got = f"{len(value)} values"
        where = spec.where(notebook)
        raise _step_error(
            spec,
            f"{where}: returned {got}, not a tuple of {len(names)}: {', '.join(names)}",
        )
    return dict(zip(names, value, strict=True))


def _step_error(spec: StepSpec, message: str) -> StepError:
    return StepError(message, step=spec.name, cells=spec.cells)


# --- serving ---------------------------------------------------------------------------------

LARGE_ARTIFACT = 100_000_000  # bytes: train() warns about an artifact above 100 MB


class ArtifactSizeWarning(UserWarning):
    """An artifact above LARGE_ARTIFACT: slow to save, to ship and to load in every server."""


def save_trained(
    folder: str | os.PathLike[str],
    values: Mapping[str, object],
    *,
    package: str,
    notebook: str,
    notebook_hash: str,
    cells: Mapping[str, str],
    parameters: Mapping[str, object],
    versions: Mapping[str, str],
    distributions: Iterable[str] = (),
    log: IO[str] | None = None,
) -> dict[str, Any]:
    """Save what a package's serving functions read, as train() ends; the manifest.

    `cells` says where each value comes from (`cell 18`, `parameter`); the manifest records
    it with the notebook, the versions of the package and of nb2prod, and the parameters. Each
    artifact's file and size go to `log` (stderr by default); one above LARGE_ARTIFACT is
    warned about. A value that cannot be saved is one ArtifactError naming it and its cell.
    """
    fields = {
        "notebook": notebook,
        "versions": dict(versions),
        "parameters": dict(parameters),
        "cells": {name: cells.get(name) for name in values},
    }
    try:
        manifest = save_artifacts(
            folder,
            values,
            package=package,
            notebook_hash=notebook_hash,
            fields=fields,
            distributions=distributions,
        )
    except ArtifactError as exc:
        if exc.name is None or exc.__cause__ is None:
            raise
        origin = cells.get(exc.name, "the pipeline")
        reason = " ".join(_reason(exc.__cause__).split())
        message = f"cannot save `{exc.name}` ({origin}): {reason}"
        raise ArtifactError(message, name=exc.name) from exc.__cause__
    _report_sizes(Path(folder), manifest, log if log is not None else sys.stderr)
    return manifest


def _report_sizes(folder: Path, manifest: Mapping[str, Any], log: IO[str]) -> None:
    for name, entry in manifest["artifacts"].items():
        where = (folder / entry["file"]).as_posix()
        print(f"saved {name}: {where} ({file_size(entry['size'])})", file=log)
        if entry["size"] > LARGE_ARTIFACT:
            warnings.warn(
                f"{where}: `{name}` takes {file_size(entry['size'])}, above "
                f"{file_size(LARGE_ARTIFACT)}; every server loads it whole: save only what "
                "the serving functions need (a fitted model, not the training data)",
                ArtifactSizeWarning,
                stacklevel=3,
            )


def file_size(size: int) -> str:
    """A size in bytes as people read it: `812 B`, `14.2 kB`, `3.1 MB` (powers of 1000)."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if round(value, 1) < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def load_trained(
    folder: str | os.PathLike[str],
    *,
    package: str,
    notebook_hash: str,
    names: Iterable[str],
) -> tuple[dict[str, object], dict[str, Any]]:
    """The artifacts train() saved and their manifest, for load() and the web API.

    The manifest must be this package's and this notebook version's and hold exactly `names`;
    every file must match its sha256; all of it is checked before anything is unpickled.
    ArtifactError otherwise, one clear line.
    """
    wanted = sorted(names)
    manifest = read_manifest(folder)
    where = (Path(folder) / MANIFEST).as_posix()
    held = sorted(manifest["artifacts"])
    if manifest.get("package") == package and held != wanted:
        raise ArtifactError(
            f"{where}: holds {', '.join(held) or 'nothing'}, but this package's serving "
            f"functions read {', '.join(wanted) or 'nothing'}; train again"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ArtifactVersionWarning)
        values = load_artifacts(folder, package=package, notebook_hash=notebook_hash)
    # attributed to the caller of load_trained (load(), the command line), not to this module
    for warning in caught:
        warnings.warn(warning.message, warning.category, stacklevel=2)
    changed = read_manifest(folder)["artifacts"] != manifest["artifacts"]
    if changed or sorted(values) != wanted:
        raise ArtifactError(f"{where}: changed while it was being loaded; load again")
    return values, manifest


def count_setting(name: str, default: int) -> int:
    """A positive whole number from the environment variable `name`, else `default`;
    ValueError naming the variable and what it holds otherwise."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"${name} must be a positive whole number, not {text!r}")
    return value


def call_by_name(function: Callable[..., _T], arguments: Mapping[str, object]) -> _T:
    """Call `function` with a JSON object's fields as its arguments, by name.

    TypeError, before the call, for a missing or unknown argument.
    """
    bound = bind_by_name(function, arguments)
    return function(*bound.args, **bound.kwargs)


def bind_by_name(function: Callable[..., object], arguments: _Values) -> Any:
    """The `inspect.BoundArguments` of a call by name (positional-only ones passed in place);
    TypeError naming a missing or unknown argument."""
    import inspect

    signature = inspect.signature(function)
    unknown = [name for name in arguments if name not in signature.parameters]
    if unknown:
        listed = ", ".join(signature.parameters) or "none"
        raise TypeError(f"unknown argument {', '.join(unknown)}; it takes {listed}")
    only = inspect.Parameter.POSITIONAL_ONLY
    kinds = {name: parameter.kind for name, parameter in signature.parameters.items()}
    first = [name for name, kind in kinds.items() if kind is only and name in arguments]
    positional = [arguments[name] for name in first]
    keywords = {name: value for name, value in arguments.items() if name not in first}
    try:
        return signature.bind(*positional, **keywords)
    except TypeError as exc:  # "missing a required argument: 'listing'"
        raise TypeError(str(exc)) from None


@contextlib.contextmanager
def stdout_kept() -> Iterator[IO[str]]:
    """stdout as it is now, for results, also while prints go to stderr: a stream on a copy of
    its file descriptor, or the stream itself when it has none (a test runner's)."""
    sys.stdout.flush()
    try:
        descriptor = os.dup(sys.stdout.fileno())
    except (OSError, ValueError):  # no descriptor: stdout replaced, as test runners do
        yield sys.stdout
        return
    with open(descriptor, "w", encoding="utf-8", closefd=True) as stream:
        yield stream


class LineError(Exception):
    """A line of JSON input that could not be scored; `line` counts from 1."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def score_lines(
    function: Callable[..., object],
    lines: Iterable[str],
    write: Callable[[str], object],
) -> int:
    """Score JSON lines: each line a JSON object of `function`'s arguments by name, each
    result written as one line of JSON. Blank lines are skipped. The number of results.

    LineError for a line that is not such an object, or on which the function raises (the
    error it raised is its cause); the results of the lines before it are written by then.
    """
    name = getattr(function, "__name__", "the function")
    count = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            arguments = json.loads(text)
        except ValueError as exc:
            raise LineError(f"not JSON ({exc})", line=number) from None
        if not isinstance(arguments, dict):
            what = f"not a JSON object of {name}'s arguments by name"
            raise LineError(what, line=number)
        try:
            bound = bind_by_name(function, arguments)
        except TypeError as exc:
            raise LineError(str(exc), line=number) from None
        try:
            result = function(*bound.args, **bound.kwargs)
        except Exception as exc:
            what = f"{name} raised {type(exc).__name__}: {exc}"
            raise LineError(what, line=number) from exc
        write(dumps(result))
        count += 1
    return count


# --- the web API of serving functions --------------------------------------------------------


class BatchTooLarge(ValueError):
    """A batch request with more cases than the API takes in one request (HTTP 413)."""


def request_model(name: str, function: Callable[..., object]) -> Any:
    """A pydantic model of a function's arguments by name, typed from its annotations.

    Bodies are checked as JSON, strictly: an int will do for a float and an array for a tuple,
    but `"3"` is no int; unknown and missing fields fail. int, float, str, bool, Optional,
    Literal, lists, dicts and tuples of them, TypedDicts, dataclasses and pydantic models are
    checked; an argument without an annotation takes any JSON value.
    """
    import inspect

    pydantic = _require("pydantic", "for the web API")
    hints = _hints(function)
    fields: dict[str, Any] = {}
    for index, parameter in enumerate(inspect.signature(function).parameters.values()):
        annotation = _checkable(hints.get(parameter.name, Any), {})
        default = ... if parameter.default is parameter.empty else parameter.default
        plain = _plain_field(pydantic, parameter.name)
        attribute = parameter.name if plain else f"field_{index}"
        alias = {} if attribute == parameter.name else {"alias": parameter.name}
        fields[attribute] = (annotation, pydantic.Field(default, **alias))
    config = pydantic.ConfigDict(extra="forbid", strict=True, title=name)
    model = pydantic.create_model(name, __config__=config, **fields)
    called = getattr(function, "__name__", name)
    model.__doc__ = f"The arguments of {called}(), by name."
    return model


def _hints(function: Callable[..., object]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(function)
    except Exception:  # an annotation the module cannot resolve: any JSON, then
        return {}


def _plain_field(pydantic: Any, name: str) -> bool:
    """Whether a name can be a pydantic field as it is (`_x`, `model_x`, `json` cannot)."""
    reserved = name.startswith(("_", "model_"))
    return not reserved and not hasattr(pydantic.BaseModel, name)


def _checkable(annotation: Any, made: dict[Any, Any]) -> Any:
    """An annotation pydantic can check: `typing.TypedDict` classes (which it refuses before
    Python 3.12) rebuilt as `typing_extensions` ones, inside containers and unions too.
    """
    import types
    import typing

    extensions = _require("typing_extensions", "for the web API")
    if extensions.is_typeddict(annotation):
        if annotation not in made:
            made[annotation] = _typed_dict(extensions, annotation, made)
        return made[annotation]
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is None or not arguments or origin is typing.Literal:
        return annotation
    if origin is typing.Annotated:
        inner = _checkable(arguments[0], made)
        return typing.Annotated[(inner, *annotation.__metadata__)]
    checked = tuple(_checkable(argument, made) for argument in arguments)
    if origin in (typing.Union, types.UnionType):
        import functools
        import operator

        return functools.reduce(operator.or_, checked)
    try:
        return origin[checked if len(checked) > 1 else checked[0]]
    except TypeError:  # a generic that cannot be rebuilt so: as it was
        return annotation


def _typed_dict(extensions: Any, annotation: Any, made: dict[Any, Any]) -> Any:
    import typing

    hints = typing.get_type_hints(annotation)
    required = getattr(annotation, "__required_keys__", frozenset(hints))
    keys = {
        key: (
            _checkable(kind, made)
            if key in required
            else extensions.NotRequired[_checkable(kind, made)]
        )
        for key, kind in hints.items()
    }
    rebuilt = extensions.TypedDict(annotation.__name__, keys)
    rebuilt.__doc__ = annotation.__doc__
    rebuilt.__module__ = annotation.__module__
    return rebuilt


def arguments_of(model: Any, body: bytes) -> dict[str, object]:
    """The arguments a request body gives, by name: only those it gives, so that the function
    applies its own defaults. pydantic.ValidationError when the body does not fit."""
    checked = model.model_validate_json(body or b"{}", strict=True)
    return _given(model, checked)


def _given(model: Any, checked: Any) -> dict[str, object]:
    fields = model.model_fields
    return {
        fields[attribute].alias or attribute: getattr(checked, attribute)
        for attribute in fields
        if attribute in checked.model_fields_set
    }


def cases_of(model: Any, body: bytes, limit: int) -> list[dict[str, object]]:
    """The arguments of each case of a batch body (a JSON array of them); BatchTooLarge for
    more than `limit` cases, pydantic.ValidationError when a case does not fit."""
    pydantic = _require("pydantic", "for the web API")
    import typing

    bounded = pydantic.Field(max_length=limit)
    many = pydantic.TypeAdapter(typing.Annotated[list[model], bounded])
    try:
        cases = many.validate_json(body or b"[]", strict=True)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        if any(e["type"] == "too_long" and not e["loc"] for e in errors):
            raise BatchTooLarge(
                f"at most {limit} cases per request; send the rest in other requests"
            ) from None
        raise
    return [_given(model, case) for case in cases]


def component_schemas(models: Iterable[Any]) -> dict[str, Any]:
    """The OpenAPI component schemas of request models and of the types they use."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


# --- a pipeline for orchestrators ------------------------------------------------------------


_Kind = tuple[str | None, str | None]  # a parameter's kind, and its items' kind


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """A package's steps as orchestrators run them: the contract every engine's code reuses.

    `steps` come in the notebook's order (a step's upstream steps before it), `functions` are
    the step functions by name, and `arguments(**values)` gives run()'s parameters with those
    left out (or None) filled in as run() fills them. `parameters` are their names, `kinds` the
    kind of each one's value and of its items (`("tuple", "int")`), by which the JSON values a
    run is given become the notebook's types (`typed`). For the parameters `null_default`
    names, whose defaults JSON cannot carry (`b"key"`), null stands for the notebook's default.
    `notebook` starts every message.
    """

    notebook: str
    steps: tuple[StepSpec, ...]
    functions: Mapping[str, Callable[..., Any]]
    arguments: Callable[..., dict[str, Any]]
    parameters: tuple[str, ...] = ()
    kinds: Mapping[str, _Kind] = dataclasses.field(default_factory=dict)
    null_default: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for spec in self.steps:
            early = [step for step in spec.upstream if step not in seen]
            if spec.name in seen or early or spec.name not in self.functions:
                raise ValueError(
                    f"step {spec.name}: repeated, without a function, or before {early}"
                )
            seen.add(spec.name)

    def step(self, name: str) -> StepSpec:
        """The step of that name."""
        for spec in self.steps:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def given(self, values: Mapping[str, object]) -> dict[str, Any]:
        """run()'s parameters from a run's JSON values; ValueError naming any unknown one."""
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            names = ", ".join(f"`{name}`" for name in unknown)
            wanted = f"the parameters are {known}"
            raise ValueError(f"{self.notebook}: no parameter {names}; {wanted}")
        converted = {}
        for name, value in values.items():
            if value is None and name in self.null_default:
                continue  # the notebook's default, which run() fills in
            try:
                converted[name] = typed(value, *self.kinds.get(name, (None, None)))
            except ValueError as exc:
                where = f"{self.notebook}: parameter `{name}`"
                raise ValueError(f"{where}: {exc}") from None
        return self.arguments(**converted)

    def run_task(
        self,
        name: str,
        store: Store,
        run_id: str,
        handed: Mapping[str, Mapping[str, str]],
        values: Mapping[str, object] | None = None,
    ) -> dict[str, str]:
        """Run one step as a task: its stored inputs at the URLs its upstream steps handed on
        (`handed`, by step), the parameters from the run's JSON `values`; the URLs it hands on.
        """
        spec = self.step(name)
        paths = {}
        for value, source in spec.sources:
            if value in handed.get(source, {}):
                paths[value] = handed[source][value]
        arguments = self.given(values or {})
        return run_step(
            self.functions[name],
            spec,
            store,
            run_id,
            paths,
            arguments,
            notebook=self.notebook,
        )

    def run_all(
        self, store: Store, run_id: str, values: Mapping[str, object] | None = None
    ) -> dict[str, dict[str, str]]:
        """Every step in order, here, one after the other, each through the store as a task:
        what each handed on. The run's result is then `store.read_result(run_id)`."""
        handed: dict[str, dict[str, str]] = {}
        for spec in self.steps:
            upstream = {step: handed[step] for step in spec.upstream}
            task = self.run_task(spec.name, store, run_id, upstream, values)
            handed[spec.name] = task
        return handed


def typed(value: object, kind: str | None, item: str | None = None) -> object:
    """A JSON value as a parameter of this kind takes it (the kinds of nb2prod's parameters).

    An integral number for an `int`, a number for a `float` (items too, with `item`), an array
    for a `tuple` or `set`, text for a `path`; anything else as it is. ValueError for a
    non-integral number given for an int.
    """
    if value is None or isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    if kind == "float" and isinstance(value, int):
        return float(value)
    if kind == "path" and isinstance(value, str):
        return Path(value)
    if kind in {"list", "tuple", "set"} and isinstance(value, list | tuple | set):
        items = [typed(element, item) for element in value] if item else list(value)
        if kind != "set":
            return tuple(items) if kind == "tuple" else items
        try:
            return set(items)
        except TypeError:  # arrays inside: JSON cannot give a set of tuples
            unhashable = f"{value!r} is not a set: its items are not hashable"
            raise ValueError(unhashable) from None
    return value
