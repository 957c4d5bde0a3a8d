"""Third-party distributions that a pipeline's imports need, under their PyPI names.

A module is looked up by its dotted name (`google.cloud.storage.Client` for `from
google.cloud.storage import Client`): the table's longest matching prefix names its
distribution; under a namespace package that many distributions share (`google.cloud`,
`azure`), the namespace's naming convention does. Only a module neither covers is looked up in
the metadata of what is installed here, so the common names are the same on every machine.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

import libcst as cst

from nb2prod.analysis.facts import simple_statements

if TYPE_CHECKING:
    from importlib.metadata import Distribution

# Modules whose distribution is named otherwise; dotted keys match a module and what is under it.
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
    "faiss": "faiss-cpu",
    "dns": "dnspython",
    "googleapiclient": "google-api-python-client",
    "google_auth_oauthlib": "google-auth-oauthlib",
    "aws_cdk": "aws-cdk-lib",
    # the modules public notebooks import most (benchmarks/corpus), named as their
    # distributions: the same on every machine, and no installed metadata to read for them
    "numpy": "numpy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "pylab": "matplotlib",
    "seaborn": "seaborn",
    "scipy": "scipy",
    "keras": "keras",
    "plotly": "plotly",
    "requests": "requests",
    "jinja2": "Jinja2",
    "torchvision": "torchvision",
    "statsmodels": "statsmodels",
    "catboost": "catboost",
    "optuna": "optuna",
    "networkx": "networkx",
    "joblib": "joblib",
    "tqdm": "tqdm",
    "shap": "shap",
    "bokeh": "bokeh",
    "nltk": "nltk",
    "xarray": "xarray",
    "pandas_datareader": "pandas-datareader",
    "ipywidgets": "ipywidgets",
    # namespace packages whose distributions break their namespace's convention
    "google.protobuf": "protobuf",
    "google.auth": "google-auth",
    "google.oauth2": "google-auth",
    "google.rpc": "googleapis-common-protos",
    "google.type": "googleapis-common-protos",
    "google.longrunning": "googleapis-common-protos",
    "google.cloud.secretmanager": "google-cloud-secret-manager",
    "google.cloud.resourcemanager": "google-cloud-resource-manager",
    "google.cloud.sql.connector": "cloud-sql-python-connector",
    "azure.storage.filedatalake": "azure-storage-file-datalake",
    "azure.storage.fileshare": "azure-storage-file-share",
    "opentelemetry.trace": "opentelemetry-api",
    "opentelemetry.metrics": "opentelemetry-api",
    "opentelemetry.context": "opentelemetry-api",
    "opentelemetry.propagate": "opentelemetry-api",
    "opentelemetry.baggage": "opentelemetry-api",
    "opentelemetry.semconv": "opentelemetry-semantic-conventions",
    "databricks.sql": "databricks-sql-connector",
    "snowflake.connector": "snowflake-connector-python",
    "snowflake.snowpark": "snowflake-snowpark-python",
}
# Namespace packages that many distributions share: a module under one that the table does not
# name comes from the distribution named after the namespace and the module's next part, dashed
# (`google.cloud.vision_v1` -> google-cloud-vision, `azure.identity` -> azure-identity).
NAMESPACES = frozenset(
    {
        "google",
        "google.cloud",
        "google.ai",
        "google.analytics",
        "azure",
        "azure.ai",
        "azure.cognitiveservices",
        "azure.communication",
        "azure.data",
        "azure.keyvault",
        "azure.kusto",
        "azure.messaging",
        "azure.mgmt",
        "azure.monitor",
        "azure.search",
        "azure.storage",
        "azureml",
        "opentelemetry",
        "opentelemetry.exporter",
        "opentelemetry.instrumentation",
        "databricks",
        "snowflake",
        "jaraco",
        "sphinxcontrib",
        "zope",
        "backports",
    }
)
_API_VERSION = re.compile(r"_v\d+(?:(?:alpha|beta)\d*)?$")  # `vision_v1`, `pubsub_v1beta2`


def normalise(name: str) -> str:
    """A distribution name as PyPI compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(statements: Iterable[cst.BaseStatement]) -> list[str]:
    """Distribution names for the third-party modules imported, standard library left out.

    The modules an import fallback tries first are optional (the code runs without them); the
    ones it falls back to are needed.
    """
    names: dict[str, None] = {}
    for module in imported_names(statements):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        distribution = distribution_for(module)
        if distribution is not None:
            names.setdefault(distribution)
    return list(names)


def imported_names(statements: Iterable[cst.BaseStatement]) -> list[str]:
    """What absolute imports name, dotted (`google.cloud.storage` for `from google.cloud import
    storage`), in order; of an import fallback's `try`, only what its handlers import."""
    found: dict[str, None] = {}
    for statement in statements:
        for small in _import_statements(statement):
            found.update(dict.fromkeys(_names(small)))
    return list(found)


def _import_statements(statement: cst.BaseStatement) -> Iterator[cst.BaseSmallStatement]:
    if isinstance(statement, cst.SimpleStatementLine):
        yield from statement.body
    elif isinstance(statement, cst.Try):
        for handler in statement.handlers:
            yield from simple_statements(handler.body) or ()


def _names(small: cst.BaseSmallStatement) -> Iterator[str]:
    code = cst.Module([]).code_for_node
    if isinstance(small, cst.Import):
        yield from (code(alias.name) for alias in small.names)
    elif isinstance(small, cst.ImportFrom) and not small.relative and small.module:
        module = code(small.module)
        if isinstance(small.names, cst.ImportStar):
            yield module
        else:
            yield from (f"{module}.{code(alias.name)}" for alias in small.names)


def distribution_for(module: str) -> str | None:
    """The distribution providing `module` (dotted): the table, then a namespace's convention,
    then installed metadata, then the top-level name; None for a bare namespace (`import
    google`), which no one distribution provides.

    The table and the namespaces come first, and are never overridden by what is installed, so
    that the output does not depend on the machine it is built on.
    """
    prefixes = _prefixes(module)
    for prefix in prefixes:
        if prefix in KNOWN_DISTRIBUTIONS:
            return KNOWN_DISTRIBUTIONS[prefix]
    for prefix in prefixes:
        if prefix in NAMESPACES:
            if prefix == module:
                return None
            part = _API_VERSION.sub("", module[len(prefix) + 1 :].split(".")[0])
            return f"{prefix}.{part}".replace(".", "-").replace("_", "-")
    top = prefixes[-1]
    installed = _providers(top)
    return sorted(installed)[0] if installed else top


def _prefixes(module: str) -> list[str]:
    """`a.b.c` -> [`a.b.c`, `a.b`, `a`]: the longest first."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(len(parts), 0, -1)]


@lru_cache(maxsize=256)
def _providers(top: str) -> list[str]:
    """The names of the installed distributions providing the top-level module `top`: those
    `importlib.metadata.packages_distributions()` lists for it.

    That function parses the file list of every installed distribution without a
    `top_level.txt` (about 0.15 s in a typical environment, a sixth of a small notebook's
    build). Here each list is only scanned for the first segments of its lines, the lists whose
    segments hold `top` are searched for its files, and only the matches' metadata is read.
    """
    found = []
    for distribution, declared, segments in _distributions():
        if declared:
            provides = top in declared
        else:
            provides = top in segments and _inferred(top, _listing(distribution))
        if provides:
            found.append(distribution.metadata["Name"])
    return found


# A file list's line: a path, maybe quoted or after `./`; its first segment ends at `/` or `.`.
_FIRST_SEGMENT = re.compile(r'^"?(?:\./)*([^/.\n"]+)[/.]', re.MULTILINE)


@lru_cache(maxsize=1)
def _distributions() -> list[tuple[Distribution, frozenset[str], frozenset[str]]]:
    """Each installed distribution, the top-level names its `top_level.txt` declares and,
    without one, the first segments of the paths its file list (RECORD, else SOURCES.txt)
    holds: every top-level module it can provide is one of them. Read once per process."""
    from importlib.metadata import distributions

    found = []
    for distribution in distributions():
        declared = frozenset((distribution.read_text("top_level.txt") or "").split())
        listing = "" if declared else _listing(distribution)
        found.append((distribution, declared, frozenset(_FIRST_SEGMENT.findall(listing))))
    return found


def _listing(distribution: Distribution) -> str:
    return distribution.read_text("RECORD") or distribution.read_text("SOURCES.txt") or ""


def _inferred(top: str, listing: str) -> bool:
    """Whether a file list holds `top` as the standard library infers top-level modules
    (`importlib.metadata._top_level_inferred`): a `.py` file under a folder `top`, or `top.py`.

    Matched on the list's text: building a path object for each of its lines took 0.06 s for
    pandas alone."""
    path = rf'^"?(?:\./)*{re.escape(top)}(?:/[^,"\n]*)?\.py(?:[,"]|$)'
    return re.search(path, listing, re.MULTILINE) is not None
