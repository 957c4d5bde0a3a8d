"""`<package>/runtime.py`: nb2prod's runtime module, shipped into the package as it is.

The CLI, the web API and the orchestrators' code of a generated package import from it (the
JSON conversion, option parsing, artifact files, the store), so that each is written once. Its
source is kept black-formatted (a test checks), so it is shipped without formatting it again:
black takes about 0.2 s over it, a quarter of a small notebook's cold build.
"""

from __future__ import annotations

import functools
from importlib import resources

MODULE = "runtime.py"


@functools.cache
def render() -> str:
    """The source of nb2prod's runtime module."""
    return resources.files("nb2prod").joinpath(MODULE).read_text(encoding="utf-8")
