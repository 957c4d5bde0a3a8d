"""`<package>/runtime.py`: nb2prod's runtime module, shipped into the package as it is.

The orchestrators' code of a generated package (`steps.py`, `airflow_dag.py`) imports the
store, the step contract and the serializers from it, so that each is written once.
"""

from __future__ import annotations

import functools
from importlib import resources

MODULE = "runtime.py"


@functools.cache
def render() -> str:
    """The source of nb2prod's runtime module."""
    return resources.files("nb2prod").joinpath(MODULE).read_text(encoding="utf-8")
