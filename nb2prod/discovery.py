"""Find the notebooks a command names: files as given, folders searched recursively.

Notebooks are `.ipynb` files and the text notebooks jupytext reads (`.py` and `.md` files that
say they are notebooks). A text notebook paired with an `.ipynb` of the same stem is one
notebook: it is found once, as the file its pairing names as the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from nb2prod.notebook.reader import is_notebook_file, is_text_suffix, paired_formats

CHECKPOINTS = ".ipynb_checkpoints"


def find_notebooks(paths: Iterable[Path], *, keyword: str | None = "deploy") -> list[Path]:
    """Each file path as given, and each notebook under each folder whose name holds `keyword`,
    with each pair of an `.ipynb` and its text notebook kept once (`one_per_pair`).

    Folders are searched recursively, skipping `.ipynb_checkpoints` and hidden folders, in
    sorted order so that runs are reproducible. A path that does not exist is kept, so the
    build can report it in the user's words, and so is a folder named `*.ipynb`.
    """
    found: dict[Path, None] = {}
    for path in paths:
        # A folder named like a notebook is a mistake to report, not a folder to search.
        if path.is_dir() and path.suffix != ".ipynb":
            for notebook in notebooks_under(path, keyword):
                found.setdefault(notebook)
        else:
            found.setdefault(path)
    return one_per_pair(list(found))


def notebooks_under(folder: Path, keyword: str | None = None) -> Iterator[Path]:
    """Every notebook under `folder` whose name holds `keyword` (any name when None): `.ipynb`
    files, and `.py` and `.md` files that are notebooks. Hidden folders and checkpoints are
    left out; a text file is opened only when its name matches."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name == CHECKPOINTS:
            continue
        if entry.is_dir() and not entry.is_symlink():
            yield from notebooks_under(entry, keyword)
        elif keyword is not None and keyword not in entry.name.lower():
            continue
        elif entry.is_file() and is_notebook_file(entry):
            yield entry


def one_per_pair(paths: list[Path]) -> list[Path]:
    """`paths` with each `.ipynb` and the text notebooks of its stem in its folder reduced to
    one, at the place of the first: the text notebook that jupytext's pairing metadata names,
    else the `.ipynb`. Other files of one stem are all kept (the build refuses their clash)."""
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path in paths:
        groups.setdefault((path.parent, path.stem), []).append(path)
    kept: dict[Path, None] = {}
    for path in paths:
        kept.setdefault(_source(groups[path.parent, path.stem]) or path)
    return list(kept)


def _source(group: list[Path]) -> Path | None:
    """The file of a pair to build from: the first text notebook its pairing names, else the
    `.ipynb` (a text file of the same stem that jupytext does not pair is not its source);
    None when the files are not an `.ipynb` and its text notebooks."""
    notebooks = [path for path in group if path.suffix == ".ipynb"]
    texts = [path for path in group if is_text_suffix(path.suffix)]
    if len(notebooks) != 1 or not texts or len(notebooks) + len(texts) != len(group):
        return None
    formats = paired_formats(notebooks[0]) or next(
        (found for found in map(paired_formats, texts) if found), ()
    )
    for extension in map(_extension, formats):
        for text in texts:
            if text.suffix.lower() == extension:
                return text
    return notebooks[0]


def _extension(fmt: str) -> str:
    """The file extension a jupytext format of the same stem names (`py:percent` -> `.py`);
    empty for one with a path, prefix or suffix, which names another file."""
    ext = fmt.split(":", 1)[0].strip()
    if "/" in ext or ext.lstrip(".").count(".") or not ext:
        return ""
    ext = ".py" if ext.lstrip(".") == "auto" else ext
    return ext if ext.startswith(".") else "." + ext
