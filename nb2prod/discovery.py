"""Find the notebooks a command names: files as given, folders searched recursively."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

CHECKPOINTS = ".ipynb_checkpoints"


def find_notebooks(paths: Iterable[Path], *, keyword: str | None = "deploy") -> list[Path]:
    """Each file path as given, and each notebook under each folder whose name holds `keyword`.

    Folders are searched recursively, skipping `.ipynb_checkpoints` and hidden folders, in
    sorted order so that runs are reproducible. A path that does not exist is kept, so the
    build can report it in the user's words, and so is a folder named `*.ipynb`.
    """
    found: dict[Path, None] = {}
    for path in paths:
        # A folder named like a notebook is a mistake to report, not a folder to search.
        if path.is_dir() and path.suffix != ".ipynb":
            for notebook in notebooks_under(path):
                if keyword is None or keyword in notebook.name.lower():
                    found.setdefault(notebook)
        else:
            found.setdefault(path)
    return list(found)


def notebooks_under(folder: Path) -> Iterator[Path]:
    """Every `.ipynb` file under `folder`, hidden folders and checkpoints left out."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name == CHECKPOINTS:
            continue
        if entry.is_dir() and not entry.is_symlink():
            yield from notebooks_under(entry)
        elif entry.is_file() and entry.suffix == ".ipynb":
            yield entry
