"""Third-party distributions that a pipeline's imports need, under their PyPI names."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache

import libcst as cst

from nb2prod.analysis.facts import simple_statements

# Import names whose distribution is named otherwise, for when it is not installed here.
KNOWN_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "PyJWT",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyOpenSSL",
    "google.cloud": "google-cloud",
    "serial": "pyserial",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "magic": "python-magic",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "tensorflow": "tensorflow",
    "torch": "torch",
    "IPython": "ipython",
    "Bio": "biopython",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "git": "GitPython",
    "fitz": "PyMuPDF",
    "Levenshtein": "python-Levenshtein",
    "sentencepiece": "sentencepiece",
    "tables": "tables",
    "umap": "umap-learn",
    "zmq": "pyzmq",
    "win32api": "pywin32",
    "slugify": "python-slugify",
    "jose": "python-jose",
    "multipart": "python-multipart",
    "pkg_resources": "setuptools",
    "mpl_toolkits": "matplotlib",
    "sqlalchemy": "SQLAlchemy",
    "lxml": "lxml",
    "geopandas": "geopandas",
}
_EMPTY = cst.Module([])


def normalise(name: str) -> str:
    """A distribution name as PyPI compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(statements: Iterable[cst.BaseStatement]) -> list[str]:
    """Top-level module names that absolute imports name, in order; of an import fallback's
    `try`, only what its handlers import (what it tries first is optional)."""
    found: dict[str, None] = {}
    for statement in statements:
        for small in _import_statements(statement):
            if isinstance(small, cst.Import):
                for alias in small.names:
                    found.setdefault(_EMPTY.code_for_node(alias.name).split(".")[0])
            elif isinstance(small, cst.ImportFrom) and not small.relative and small.module:
                found.setdefault(_EMPTY.code_for_node(small.module).split(".")[0])
    return list(found)


def _import_statements(statement: cst.BaseStatement) -> Iterator[cst.BaseSmallStatement]:
    if isinstance(statement, cst.SimpleStatementLine):
        yield from statement.body
    elif isinstance(statement, cst.Try):
        for handler in statement.handlers:
            yield from simple_statements(handler.body) or ()


def requirements(statements: Iterable[cst.BaseStatement]) -> list[str]:
    """Distribution names for the third-party modules imported, standard library left out."""
    names: dict[str, None] = {}
    for module in imported_modules(statements):
        if module in sys.stdlib_module_names or module == "__future__":
            continue
        names.setdefault(distribution_for(module))
    return list(names)


def distribution_for(module: str) -> str:
    """The distribution providing `module`: known aliases first, then installed metadata.

    The table comes first so that the common names do not depend on what this machine has
    installed (the output must be the same wherever it is built).
    """
    if module in KNOWN_DISTRIBUTIONS:
        return KNOWN_DISTRIBUTIONS[module]
    installed = _installed().get(module)
    if installed:
        return sorted(installed)[0]
    return module


@lru_cache(maxsize=1)
def _installed() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return dict(packages_distributions())
