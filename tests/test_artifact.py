"""The installable artifact: dependencies with lower bounds, the wheel, the nbconvert exporter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.build import Status
from nb2prod.emit.requirements import distribution_for
from nb2prod.versions import lower_bounds, pinned_versions

from conftest import build
from notebooks import write_notebook

IMPORTS = [
    "parameters: n = 2",
    "deploy: import os, json\nimport sklearn.linear_model\nfrom PIL import Image\nimport yaml",
    "deploy: n * 2",
]


@pytest.mark.parametrize(
    ("module", "distribution"),
    [
        pytest.param("sklearn", "scikit-learn", id="sklearn"),
        pytest.param("yaml", "PyYAML", id="yaml"),
        pytest.param("cv2", "opencv-python", id="cv2"),
        pytest.param("PIL", "pillow", id="PIL"),
        pytest.param("bs4", "beautifulsoup4", id="bs4"),
        pytest.param("libcst", "libcst", id="installed, same name"),
        pytest.param("nbformat", "nbformat", id="installed metadata"),
    ],
)
def test_distribution_names(module: str, distribution: str) -> None:
    assert distribution_for(module) == distribution


NAMESPACED = [
    pytest.param("google.cloud.storage", "google-cloud-storage", id="google.cloud.storage"),
    pytest.param("google.cloud.storage.Client", "google-cloud-storage", id="what is under it"),
    pytest.param("google.cloud.bigquery", "google-cloud-bigquery", id="google.cloud.bigquery"),
    pytest.param("google.cloud.pubsub_v1", "google-cloud-pubsub", id="an API version dropped"),
    pytest.param("google.cloud.secretmanager", "google-cloud-secret-manager", id="an exception"),
    pytest.param("google.protobuf.json_format", "protobuf", id="google.protobuf"),
    pytest.param("google.oauth2.service_account", "google-auth", id="google.oauth2"),
    pytest.param("google.genai", "google-genai", id="google.genai"),
    pytest.param("azure.storage.blob", "azure-storage-blob", id="azure.storage.blob"),
    pytest.param("azure.identity", "azure-identity", id="azure.identity"),
    pytest.param("azure.mgmt.compute", "azure-mgmt-compute", id="azure.mgmt"),
    pytest.param("azure.storage.filedatalake", "azure-storage-file-datalake", id="datalake"),
    pytest.param("opentelemetry.sdk.trace", "opentelemetry-sdk", id="opentelemetry.sdk"),
    pytest.param("opentelemetry.trace", "opentelemetry-api", id="opentelemetry.trace"),
    pytest.param("snowflake.connector", "snowflake-connector-python", id="snowflake"),
    pytest.param("sklearn.linear_model", "scikit-learn", id="a submodule of a table entry"),
    pytest.param("google", None, id="a bare namespace names no distribution"),
]


@pytest.mark.parametrize(("module", "distribution"), NAMESPACED)
def test_namespace_packages_get_their_pypi_names(
    module: str, distribution: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matched on the dotted prefix; what happens to be installed here never decides."""
    from nb2prod.emit import requirements

    installed = {"google": ["protobuf"], "azure": ["azure-core"], "sklearn": ["sklearn-fork"]}
    monkeypatch.setattr(requirements, "_providers", lambda top: installed.get(top, []))
    assert distribution_for(module) == distribution


def test_namespace_imports_in_the_pyproject(tmp_path: Path) -> None:
    cells = [
        "deploy: from google.cloud import storage, bigquery\nimport azure.storage.blob\n"
        "from azure.identity import DefaultAzureCredential\n"
        "try:\n    import ujson as json\nexcept ImportError:\n    import simplejson as json",
        "deploy: 1",
    ]
    notebook = write_notebook(tmp_path / "cloud_deploy.ipynb", cells)
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    assert dependencies(tmp_path / "out" / "cloud_deploy") == [
        "typer>=0.9",
        "google-cloud-storage",
        "google-cloud-bigquery",
        "azure-storage-blob",
        "azure-identity",
        "simplejson",  # what an import fallback falls back to; ujson is optional
    ]


def test_pinned_versions() -> None:
    text = "# lock\nscikit_learn==1.4.2\nPyYAML>=6.0 ; python_version>'3'\npillow[extra]~=10.1\n-r base.txt\nrequests\n"
    assert pinned_versions(text) == (
        ("pillow", "10.1"),
        ("pyyaml", "6.0"),
        ("scikit-learn", "1.4.2"),
    )


def dependencies(project: Path) -> list[str]:
    import tomllib

    text = (project / "pyproject.toml").read_text()
    return list(tomllib.loads(text)["project"]["dependencies"])


def test_dependencies_without_bounds_by_default(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "deps_deploy.ipynb", IMPORTS)
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    assert dependencies(tmp_path / "out" / "deps_deploy") == [
        "typer>=0.9",
        "scikit-learn",
        "pillow",
        "PyYAML",
    ]


def test_an_import_kept_in_its_step_is_a_dependency_too(tmp_path: Path) -> None:
    """`auc` bound, then imported: the import stays in its step, and still names its package."""
    cells = [
        "deploy: auc = 0.5",
        "deploy: from sklearn.metrics import auc\nscore = auc([0, 1], [0, 1])",
        "deploy: try:\n    import yaml\nexcept ImportError:\n    import json as yaml",
        "deploy: yaml = {'score': score}\nyaml",
    ]
    notebook = write_notebook(tmp_path / "kept_deploy.ipynb", cells)
    assert build(notebook, tmp_path / "out").status is Status.WRITTEN
    pipeline = (tmp_path / "out" / "kept_deploy" / "kept_deploy" / "pipeline.py").read_text()
    assert "    from sklearn.metrics import auc" in pipeline  # in its step
    assert dependencies(tmp_path / "out" / "kept_deploy") == ["typer>=0.9", "scikit-learn"]


def test_dependencies_with_bounds_from_a_pinned_file(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "deps_deploy.ipynb", IMPORTS)
    pins = tmp_path / "requirements.lock"
    pins.write_text("scikit-learn==1.4.2\npyyaml==6.0.1\n")
    result = build(notebook, tmp_path / "out", lower_bounds=str(pins))
    assert result.status is Status.WRITTEN
    assert dependencies(tmp_path / "out" / "deps_deploy")[1:] == [
        "scikit-learn>=1.4.2",
        "pillow",
        "PyYAML>=6.0.1",
    ]


def test_installed_bounds_come_from_this_environment() -> None:
    from importlib.metadata import version

    assert dict(lower_bounds("installed"))["libcst"] == version("libcst")


def test_missing_pinned_file_is_an_error(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "deps_deploy.ipynb", IMPORTS)
    result = build(notebook, tmp_path / "out", lower_bounds=str(tmp_path / "nope.txt"))
    assert result.status is Status.FAILED
    assert "the lower-bounds file" in result.messages[0]
    assert not (tmp_path / "out").exists()


def test_nbconvert_exporter_writes_the_pipeline_module(tmp_path: Path) -> None:
    from nbconvert.exporters import get_exporter

    notebook = write_notebook(tmp_path / "churn_deploy.ipynb", IMPORTS[:1] + IMPORTS[2:])
    exporter = get_exporter("nb2prod")()
    body, resources = exporter.from_filename(str(notebook))
    assert resources["output_extension"] == ".py"
    assert body.startswith("# Generated by nb2prod from ")
    namespace: dict[str, object] = {}
    exec(compile(body, "churn_deploy.py", "exec"), namespace)
    assert namespace["run"](n=5) == 10  # type: ignore[operator]


def test_nbconvert_exporter_error_is_one_line(tmp_path: Path) -> None:
    from nb2prod.exporter import ExportError, PipelineExporter

    notebook = write_notebook(tmp_path / "bad_deploy.ipynb", ["deploy: x = = 1"])
    with pytest.raises(ExportError, match=r"bad_deploy.ipynb: cell 1, line 1: syntax error"):
        PipelineExporter().from_filename(str(notebook))


def test_jupyter_nbconvert_reports_a_notebook_error_in_one_line(tmp_path: Path) -> None:
    write_notebook(tmp_path / "bad_deploy.ipynb", ["deploy: x = = 1"])
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "nb2prod", "bad_deploy.ipynb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if "[NbConvertApp]" not in line] == [
        "bad_deploy.ipynb: cell 1, line 1: syntax error: invalid syntax; fix the cell so that it "
        "runs in Jupyter"
    ]
    assert not (tmp_path / "bad_deploy.py").exists()


def test_wheel_installs_module_and_console_script(tmp_path: Path) -> None:
    """pip wheel offline, install the wheel, run `python -m` and the console script."""
    notebook = write_notebook(tmp_path / "churn_deploy.ipynb", IMPORTS[:1] + IMPORTS[2:])
    assert build(notebook, tmp_path / "build").status is Status.WRITTEN
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run = {"check": True, "capture_output": True, "text": True}
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    build_wheel = [*pip, "wheel", "--no-build-isolation", "--no-deps", "-w", str(wheels)]
    subprocess.run([*build_wheel, str(tmp_path / "build" / "churn_deploy")], **run)  # type: ignore[call-overload]
    (wheel,) = wheels.glob("churn_deploy-0.1.0-*.whl")
    install = [*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    subprocess.run(install, **run)  # type: ignore[call-overload]
    env = {**os.environ, "PYTHONPATH": str(site)}
    as_module = [sys.executable, "-m", "churn_deploy", "--n", "21"]
    out = subprocess.run(as_module, env=env, cwd=tmp_path, **run)  # type: ignore[call-overload]
    assert out.stdout.strip() == "42"
    script = site / "bin" / "churn-deploy"
    out = subprocess.run([str(script), "--n", "4"], env=env, cwd=tmp_path, **run)  # type: ignore[call-overload]
    assert out.stdout.strip() == "8"


def test_copies_made_by_pip_wheel_are_not_reported_by_check(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "churn_deploy.ipynb", IMPORTS[:1] + IMPORTS[2:])
    assert build(notebook, tmp_path / "build").status is Status.WRITTEN
    project = tmp_path / "build" / "churn_deploy"
    for copy in ("build/lib/churn_deploy", "churn_deploy.egg-info", ".venv/lib"):
        (project / copy).mkdir(parents=True)
        pipeline = project / "churn_deploy" / "pipeline.py"
        (project / copy / "pipeline.py").write_text(pipeline.read_text() + "# old\n")
    assert build(notebook, tmp_path / "build", check=True).status is Status.UP_TO_DATE
    assert build(notebook, tmp_path / "build").status is Status.UNCHANGED
    assert (project / "build" / "lib" / "churn_deploy" / "pipeline.py").exists()
