"""`nb2prod lint`: the naming convention that keeps a folder of notebooks navigable.

Each notebook's name holds exactly one category keyword and a short description, and the data
files that deploy and cleaning notebooks read or write carry a date in their names, or in a
Hive-style partition folder (`events/dt=2024-05-01/part-0.parquet`). A cell of theirs that
does not parse is a finding too: its file names cannot be checked.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.errors import Diagnostic, NotebookError

if TYPE_CHECKING:
    from nb2prod.notebook.reader import Notebook

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z]+|[0-9]+")
# A calendar date as YYYY-MM-DD, YYYY_MM_DD or YYYYMMDD, with one separator used throughout.
_DATE = re.compile(
    r"(?<!\d)(?:19|20)\d\d(?P<sep>[-_]?)(?:0[1-9]|1[0-2])(?P=sep)(?:0[1-9]|[12]\d|3[01])(?!\d)"
)
_EXAMPLE_DATE = "2024-05-01"
# A Hive-style partition folder holding a date (`dt=2024-05-01`), or the year of one
# (`year=2024/month=05/day=01`).
_PARTITION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=(?P<value>[^/=]+)$")
_YEAR = re.compile(r"^year=(?:19|20)\d\d$", re.IGNORECASE)


@dataclass(frozen=True)
class LintRules:
    """What `nb2prod lint` checks; `[tool.nb2prod.lint]` sets any of these fields."""

    categories: tuple[str, ...] = ("exploration", "cleaning", "experimental", "deploy")
    dated_categories: tuple[str, ...] = ("deploy", "cleaning")
    data_extensions: tuple[str, ...] = (
        ".csv", ".tsv", ".parquet", ".json", ".jsonl", ".feather", ".pkl", ".xlsx", ".h5",
    )  # fmt: skip
    max_description_words: int = 5
    exclude: tuple[str, ...] = ()

    @classmethod
    def schema(cls) -> dict[str, type]:
        """Each field's name and the type its value has in pyproject.toml."""
        return {f.name: int if f.name == "max_description_words" else list for f in fields(cls)}

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> LintRules:
        """Rules from validated `[tool.nb2prod.lint]` values (lists, numbers)."""
        converted: dict[str, Any] = {}
        for key, value in values.items():
            if key == "max_description_words":
                converted[key] = value
            elif key == "data_extensions":
                converted[key] = tuple("." + v.lower().lstrip(".") for v in value)
            elif key == "exclude":
                converted[key] = tuple(value)
            else:
                converted[key] = tuple(v.lower() for v in value)
        return cls(**converted)

    def excludes(self, path: Path) -> bool:
        """Whether `path` matches one of the `exclude` glob patterns."""
        return any(fnmatch.fnmatch(path.as_posix(), pattern) for pattern in self.exclude)


def name_words(stem: str) -> list[str]:
    """The words of a file name: split at case changes and at anything not a letter or digit."""
    return _WORD.findall(_CAMEL.sub("_", stem).lower())


def categories_of(stem: str, rules: LintRules) -> list[str]:
    """The category keywords a notebook's name holds, in order, each once."""
    return list(dict.fromkeys(w for w in name_words(stem) if w in rules.categories))


def name_findings(stem: str, rules: LintRules) -> list[str]:
    """What is wrong with a notebook's name (its stem), as messages."""
    if stem.lower().startswith("untitled"):
        return [
            f"untitled notebook; rename it to a short description and a category ({_how(rules)})"
        ]
    found = categories_of(stem, rules)
    messages = []
    if not found:
        messages.append(f"no category keyword in the name; add one ({_how(rules)})")
    elif len(found) > 1:
        messages.append(f"{len(found)} category keywords ({', '.join(found)}); keep exactly one")
    description = [w for w in name_words(stem) if w not in rules.categories and not w.isdigit()]
    if not description:
        messages.append("no description in the name; add a few words saying what it does")
    elif len(description) > rules.max_description_words:
        messages.append(
            f"the description has {len(description)} words; keep it to "
            f"{rules.max_description_words} or fewer"
        )
    return messages


def _how(rules: LintRules) -> str:
    return f"e.g. churn_{rules.categories[-1]}.ipynb; one of {', '.join(rules.categories)}"


def data_file_findings(notebook: Notebook, rules: LintRules) -> list[Diagnostic]:
    """Data file names without a date in the notebook's code cells, each file once."""
    from nb2prod.notebook.magics import clean_cell

    seen: set[str] = set()
    found = []
    for cell in notebook.cells:
        if cell.kind != "code":
            continue
        try:
            tree = ast.parse(clean_cell(cell.source, strict=False).code)
        except SyntaxError as exc:
            found.append(Diagnostic(_unparsed(exc.msg), cell.index, exc.lineno))
            continue
        except ValueError as exc:  # NUL bytes
            found.append(Diagnostic(_unparsed(str(exc)), cell.index))
            continue
        for name, line in _file_names(tree, rules.data_extensions):
            if name not in seen and not is_dated(name):
                seen.add(name)
                found.append(Diagnostic(_undated(name), cell.index, line))
    return found


def _unparsed(reason: str) -> str:
    return (
        f"the code does not parse ({reason}), so its data file names cannot be checked; "
        "fix the cell"
    )


def has_date(name: str) -> bool:
    """Whether a file name holds a date as YYYY-MM-DD, YYYY_MM_DD or YYYYMMDD."""
    return _DATE.search(name) is not None


def is_dated(path: str) -> bool:
    """Whether a data file's path is dated: its file name holds a date, or one of its folders
    is a Hive-style partition by date (`dt=2024-05-01`, `year=2024/month=05`, or a value
    formatted in: `f"dt={day}"`)."""
    if has_date(_basename(path)):
        return True
    for folder in path.replace("\\", "/").split("/")[:-1]:
        partition = _PARTITION.match(folder)
        if partition is None:
            continue
        value = partition["value"]
        if has_date(value) or _YEAR.match(folder) or "{" in value:
            return True
    return False


def _undated(name: str) -> str:
    base = _basename(name)
    return f"data file {name!r} has no date in its name; name it like {_EXAMPLE_DATE}_{base}"


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _file_names(tree: ast.AST, extensions: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """String literals naming data files, with lines; f-strings formatting the name are skipped."""
    inside_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstrings.update(id(part) for part in node.values)
            text = "".join(
                str(p.value) if isinstance(p, ast.Constant) else "{}" for p in node.values
            )
            if text.lower().endswith(extensions) and "{}" not in _basename(text):
                yield text, node.lineno
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside_fstrings
            and node.value.lower().endswith(extensions)
        ):
            yield node.value, node.lineno


def lint_notebook(path: Path, rules: LintRules) -> list[str]:
    """Every finding for one notebook file, as `path: finding` lines."""
    from nb2prod.notebook.reader import read_notebook

    shown = path.as_posix()
    lines = [f"{shown}: {message}" for message in name_findings(path.stem, rules)]
    if not set(categories_of(path.stem, rules)) & set(rules.dated_categories):
        return lines
    try:
        notebook = read_notebook(path)
    except NotebookError as exc:
        return [*lines, exc.diagnostic.render(shown)]
    findings = data_file_findings(notebook, rules)
    return [*lines, *(notebook.placed(d).render(shown) for d in findings)]


def lint_paths(paths: Iterable[Path], rules: LintRules) -> list[str]:
    """Findings for every notebook named or found under the folders named, in order."""
    from nb2prod.discovery import find_notebooks
    from nb2prod.notebook.reader import is_notebook_file, is_text_suffix

    findings = []
    for path in find_notebooks(paths, keyword=None):
        if rules.excludes(path):
            continue
        if not path.exists():
            findings.append(f"{path.as_posix()}: no such file; check the path")
        elif is_text_suffix(path.suffix) and not is_notebook_file(path):
            continue  # a module or a document, not a notebook: not lint's business
        elif not is_notebook_file(path):
            findings.append(
                f"{path.as_posix()}: not a notebook; name an .ipynb file, a text notebook "
                "(.py or .md) or a folder"
            )
        else:
            findings.extend(lint_notebook(path, rules))
    return findings
