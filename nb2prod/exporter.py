"""`jupyter nbconvert --to nb2prod NOTEBOOK`: the pipeline module as one `.py` file.

An nbconvert exporter (entry point `nbconvert.exporters`) built on the same pipeline as
`nb2prod build`; it returns only the generated `pipeline.py`. Under `jupyter nbconvert` a
notebook error is the usual one line `PATH: cell N, line M: ...` and exit status 1; called
from Python, it raises ExportError with that message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from nbconvert.exporters import Exporter
from traitlets import default

from nb2prod.errors import Diagnostic, NotebookError
from nb2prod.options import BuildOptions


class ExportError(ValueError):
    """The notebook cannot be exported; the message is `PATH: cell N, line M: ...`."""


class PipelineExporter(Exporter):
    """Export a notebook's deploy cells as nb2prod's pipeline module."""

    export_from_notebook = "nb2prod pipeline"
    output_mimetype = "text/x-python"

    @default("file_extension")
    def _file_extension_default(self) -> str:
        return ".py"

    def from_notebook_node(  # type: ignore[override]
        self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        """The pipeline module of `nb`, and nbconvert's resources."""
        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        metadata = resources.get("metadata", {})
        path = Path(metadata.get("path") or ".") / f"{metadata.get('name') or 'notebook'}.ipynb"
        warnings: list[Diagnostic] = []
        try:
            module = pipeline_module(json.dumps(nb_copy), path, warnings)
        except NotebookError as exc:
            message = exc.diagnostic.render(path.as_posix())
            if _in_nbconvert_command():
                # nbconvert would print the traceback of any exception; the line says it all.
                print(message, file=sys.stderr)
                raise SystemExit(1) from None
            raise ExportError(message) from None
        for note in warnings:
            self.log.warning(note.render(path.as_posix()))
        return module, resources


def _in_nbconvert_command() -> bool:
    """Whether `jupyter nbconvert` is running this exporter (rather than a Python caller)."""
    from nbconvert.nbconvertapp import NbConvertApp

    return bool(NbConvertApp.initialized())


def pipeline_module(text: str, path: Path, warnings: list[Diagnostic]) -> str:
    """The generated `pipeline.py` for notebook JSON `text` read from `path`."""
    from nb2prod.build import package_target, render_package
    from nb2prod.notebook.reader import parse_notebook

    target, _ = package_target(path, BuildOptions())
    files = render_package(parse_notebook(text), target, warnings)
    return files[f"{target.package}/pipeline.py"]
