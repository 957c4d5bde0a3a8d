"""Fingerprints of a build's inputs, so that a rebuild with nothing changed does no work.

After a build, `<out>/.nb2prod_cache/<package>.json` records a digest of everything the output
depends on (the notebook's bytes, the options, nb2prod's own code), the SHA-256 of each file
written and the modification times of their folders. A rebuild whose digest matches, whose
files still have those hashes and whose folders gained or lost no file (so hand edits and stray
files are still seen) is answered from the record without parsing or formatting anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from nb2prod.caching.store import code_version
from nb2prod.config import Config

CACHE_DIR = ".nb2prod_cache"
_FORMAT = 1


@dataclass(frozen=True)
class Hit:
    """A rebuild answered from the record: the package folder and the messages to repeat."""

    dest: Path
    messages: tuple[str, ...]


def input_key(notebook: bytes, path: Path, config: Config, dest: Path) -> str | None:
    """A digest of every input of building `notebook`, read from `path`, into `dest`; None when
    it cannot be known."""
    if config.lower_bounds == "installed":
        return None  # the output depends on whatever is installed today
    bounds_file = None if config.lower_bounds is None else Path(config.lower_bounds)
    bounds = b"" if bounds_file is None else _regular_file_bytes(bounds_file)
    if bounds is None:
        return None
    digest = hashlib.sha256()
    options = [
        _FORMAT,
        code_version(),
        str(path.resolve()),
        str(dest.resolve()),
        str(config.root.resolve()),
        config.api,
        config.lower_bounds,
    ]
    digest.update(json.dumps(options).encode())
    digest.update(hashlib.sha256(notebook).digest())
    digest.update(hashlib.sha256(bounds).digest())
    return digest.hexdigest()


def lookup(key: str | None, config: Config, dest: Path) -> Hit | None:
    """The recorded build for `key`, if its files are on disk exactly as written."""
    if key is None:
        return None
    try:
        record = json.loads(_record_path(config, dest).read_text(encoding="utf-8"))
        if record.get("key") != key:
            return None
        for rel, digest in record["files"].items():
            if _file_digest(dest / rel) != digest:
                return None
        if record["folders"] != _folder_times(dest, record["files"]):
            return None  # a file was added or removed beside the generated ones
        return Hit(dest, tuple(record["messages"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no record, or one from another version: build in full


def record(
    key: str | None, config: Config, dest: Path, files: dict[str, str], messages: tuple[str, ...]
) -> None:
    """Remember a successful build; a record that cannot be written only costs speed later."""
    if key is None:
        return
    hashes = {rel: hashlib.sha256(text.encode("utf-8")).hexdigest() for rel, text in files.items()}
    folders = _folder_times(dest, hashes)
    content = {"key": key, "files": hashes, "folders": folders, "messages": list(messages)}
    text = json.dumps(content, indent=1)
    target = _record_path(config, dest)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, target)
    except OSError:
        staging.unlink(missing_ok=True)


def _folder_times(dest: Path, files: dict[str, str]) -> dict[str, int | None]:
    """The modification time of each folder holding generated files, which any new file bumps."""
    times: dict[str, int | None] = {}
    for rel in sorted({Path(rel).parent.as_posix() for rel in files}):
        try:
            times[rel] = (dest / rel).stat().st_mtime_ns
        except OSError:
            times[rel] = None
    return times


def _regular_file_bytes(path: Path) -> bytes | None:
    """A regular file's bytes; None for anything else (a FIFO must never be opened)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        return path.read_bytes()
    except OSError:
        return None


def _record_path(config: Config, dest: Path) -> Path:
    return config.out / CACHE_DIR / f"{dest.name}.json"


def _file_digest(path: Path) -> str | None:
    content = _regular_file_bytes(path)
    return None if content is None else hashlib.sha256(content).hexdigest()
