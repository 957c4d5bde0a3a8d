"""benchmarks/serve_load.py serves both endpoints on 127.0.0.1 and checks every answer."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "serve_load.py"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_load", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_both_servers_answer_and_wrong_answers_are_caught(tmp_path: Path) -> None:
    load = bench()
    project, artifacts = load.build_and_train(tmp_path)
    cases = load.listings(6)
    try:
        answers, direct = load.direct(project, artifacts, cases)
    finally:  # direct() imports the generated package here
        sys.path.remove(str(project))
        for name in [
            n for n in sys.modules if n.split(".")[0] in {"listings_deploy", "serve_load"}
        ]:
            del sys.modules[name]
    assert len(direct.latencies) == 6
    servers = {
        "generated": (f"{load.PACKAGE}.api:app", [project]),
        "hand-written": ("serve_handwritten:app", [project, ROOT / "benchmarks"]),
    }
    for app, path in servers.values():
        with load.uvicorn_server(app, path, artifacts) as url:
            assert url.startswith("http://127.0.0.1:")
            timing, wrong = load.sequential(url, cases, answers)
            assert wrong == 0 and len(timing.latencies) == 6
            tampered = [*answers[:-1], answers[-1] + 1]
            assert load.sequential(url, cases, tampered)[1] == 1


@pytest.mark.slow
def test_reports_both_endpoints_side_by_side() -> None:
    arguments = ["--runs", "1", "--rounds", "1", "--requests", "10", "--concurrency", "2"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    labels = [
        "generated, one at a time",
        "hand-written, 2 at a time",
        "generated, ASGI in-process",
        "predict() called directly",
    ]
    for label in labels:
        assert any(line.startswith(f"| {label} |") for line in lines), done.stdout
    assert "generated / hand-written p50, per run:" in done.stdout
    assert "answers correct: 60/60" in done.stdout
