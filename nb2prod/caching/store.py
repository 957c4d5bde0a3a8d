"""Where build results are kept between runs: files keyed by content and nb2prod's version.

Entries live under the user's cache folder (`NB2PROD_CACHE_DIR` or `--cache-dir` override it),
one file per entry, named by the SHA-256 of what produced it. Each file starts with the digest of
its payload, so a damaged or truncated entry is ignored and rewritten; entries are written to a
temporary file and renamed into place, so two builds running at once never see half an entry.

What the stages of a notebook's build make (the facts of each cell, the code of each step,
each formatted chunk) is many small entries, so they travel together: a `Pack` is one entry
holding those of the notebook's last build, read once at the start of a build and replaced at
its end.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Protocol

from nb2prod import __version__

ENV_VAR = "NB2PROD_CACHE_DIR"
_DIGEST_BYTES = 32


class Cache(Protocol):
    """Where derived results are kept between builds."""

    def get(self, kind: str, key: str) -> bytes | None:
        """The payload stored for `key`, or None when absent or damaged."""

    def put(self, kind: str, key: str, payload: bytes) -> None:
        """Store `payload` for `key`; failures are silent (a cache is only an optimisation)."""


class NoCache:
    """The cache of `--no-cache`: remembers nothing."""

    def get(self, kind: str, key: str) -> bytes | None:
        return None

    def put(self, kind: str, key: str, payload: bytes) -> None:
        return None


class FileCache:
    """Entries as files under `root/<kind>/<key[:2]>/<key>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / key

    def get(self, kind: str, key: str) -> bytes | None:
        try:
            data = self._path(kind, key).read_bytes()
        except OSError:
            return None
        digest, payload = data[:_DIGEST_BYTES], data[_DIGEST_BYTES:]
        if hashlib.sha256(payload).digest() != digest:
            return None  # damaged: the next put rewrites it
        return payload

    def put(self, kind: str, key: str, payload: bytes) -> None:
        path = self._path(kind, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(hashlib.sha256(payload).digest() + payload)
                os.replace(temporary, path)  # atomic: readers see the old entry or the new one
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            return None


class Pack:
    """One notebook's per-cell results, kept in one entry of `store` under `name`.

    Lookups are answered from the pack of the last build; every entry this build looks up or
    makes is kept for the next one, and the rest are dropped, so a pack holds one build's worth.
    Its entries are keyed by content like any other, so a changed cell simply misses.
    """

    def __init__(self, store: Cache, name: str) -> None:
        self.store = store
        self.name = name
        self.old = unpack(store.get(PACK, name) or b"")
        self.kept: dict[tuple[str, str], bytes] = {}
        self.added = False

    def get(self, kind: str, key: str) -> bytes | None:
        payload = self.kept.get((kind, key)) or self.old.get((kind, key))
        if payload is not None:
            self.kept[kind, key] = payload
        return payload

    def put(self, kind: str, key: str, payload: bytes) -> None:
        self.kept[kind, key] = payload
        self.added = True

    def save(self) -> None:
        """Replace the stored pack with this build's entries, when they differ."""
        if self.added or self.kept.keys() != self.old.keys():
            self.store.put(PACK, self.name, pack(self.kept))


PACK = "pack"


def pack(entries: dict[tuple[str, str], bytes]) -> bytes:
    """Entries as one payload: for each, a `kind key length` line and then its bytes."""
    parts = []
    for (kind, entry), payload in entries.items():
        parts.append(f"{kind} {entry} {len(payload)}\n".encode())
        parts.append(payload)
    return b"".join(parts)


def unpack(data: bytes) -> dict[tuple[str, str], bytes]:
    """What pack() joined; empty when `data` is not what it wrote (the pack is then rebuilt)."""
    entries: dict[tuple[str, str], bytes] = {}
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        try:
            kind, entry, size = data[position:end].decode().split(" ")
            length = int(size)
        except ValueError:
            return {}
        if end < 0 or length < 0 or end + 1 + length > len(data):
            return {}
        entries[kind, entry] = data[end + 1 : end + 1 + length]
        position = end + 1 + length
    return entries


def key(*parts: str) -> str:
    """A cache key for `parts`, bound to nb2prod's version so an upgrade starts afresh."""
    return _digest(code_version(), *parts)


def pack_name(notebook: str, package: str) -> str:
    """The name of a notebook's pack. Unlike keys it does not change with nb2prod's version:
    the first build after an upgrade finds none of its entries, and replaces the old pack
    rather than leave it behind."""
    return _digest(PACK, notebook, package)


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


# The libraries that read, parse and format: what every stage's result depends on.
LIBRARIES = frozenset({"libcst", "black", "nbformat", "jupytext"})


@functools.cache
def code_version() -> str:
    """nb2prod's version, a digest of its own source, the version of Python and where the
    libraries that read, parse and format are installed and at what versions, so that an
    upgrade, an edited checkout or another virtualenv sharing the cache folder never reuses
    what other code produced. Other installs leave it alone: they would throw away every
    notebook's cells, steps and chunks."""
    digest = hashlib.sha256(f"{sys.version}\n{_metadata_folders(LIBRARIES)}".encode())
    package = Path(__file__).parents[1]  # all of nb2prod, not only this folder
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    return __version__ + ":" + digest.hexdigest()


@functools.cache
def installed() -> str:
    """A digest of the distributions installed where this runs (their metadata folders' names,
    which carry their versions): what parses and formats, and what the dependencies a
    generated pyproject lists for modules outside nb2prod's own table are looked up among.
    Listing the folders costs a millisecond; asking `importlib.metadata` for four versions
    cost 30 (its import, mostly)."""
    return hashlib.sha256(_metadata_folders().encode()).hexdigest()


def _metadata_folders(only: frozenset[str] | None = None) -> str:
    """The `sys.path` entries holding distributions' metadata folders (and eggs), in order, each
    with the folders' names, which carry their versions; with `only`, of those distributions
    alone. In path order, as imports find them: which copy of a library loads counts too. An
    entry holding none (the current folder, most of `PYTHONPATH`) leaves the text alone."""
    lines: list[str] = []
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as found:
                names = sorted(e.name for e in found if e.name.endswith(_METADATA))
        except OSError:  # a zip file, or a folder that is not there
            names = []
        if only is not None:
            names = [name for name in names if _distribution(name) in only]
        if names:
            lines.append(f"{entry}\t{' '.join(names)}")
    if only is not None:  # an egg on the path is its own entry: `black-24.1-py3.11.egg`
        lines += [entry for entry in sys.path if _distribution(os.path.basename(entry)) in only]
    return "\n".join(lines)


_METADATA = (".dist-info", ".egg-info", ".egg")


def _distribution(folder: str) -> str:
    """`black` for `black-24.1.0.dist-info`, `Black-24.1-py3.11.egg`: the name, normalised."""
    return re.sub(r"[-_.]+", "-", folder.split("-", 1)[0]).lower()


def default_folder() -> Path:
    """`NB2PROD_CACHE_DIR` if set, else the platform's user cache folder for nb2prod."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("nb2prod", appauthor=False))


def open_cache(folder: Path | None, *, enabled: bool = True) -> Cache:
    """The cache a build uses: none when disabled, else files under `folder` or the default."""
    if not enabled:
        return NoCache()
    return FileCache(folder if folder is not None else default_folder())
