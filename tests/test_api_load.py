"""The load check in benchmarks/api_load.py serves on 127.0.0.1 and catches wrong answers."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "api_load.py"


def load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_load", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["api_load"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_every_answer_is_checked(tmp_path: Path) -> None:
    bench = load_check()
    project = bench.build_project(tmp_path)
    try:
        answers, _ = bench.expected_answers(project, 12)
    finally:  # expected_answers imports the generated package here
        sys.path.remove(str(project))
        for name in [n for n in sys.modules if n.split(".")[0] in {"churn_deploy", "api_load"}]:
            del sys.modules[name]
    tampered = [*answers[:-1], {"not": "the answer"}]
    with bench.uvicorn_server(project, bench.free_port()) as url:
        assert url.startswith("http://127.0.0.1:")
        runs, health, wrong = asyncio.run(bench.measure(url, answers, 4))
        assert wrong == 0 and len(runs.latencies) == len(health.latencies) == 12
        assert asyncio.run(bench.measure(url, tampered, 4))[2] == 1


def test_reports_throughput_and_stops_the_server() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--requests", "20", "--concurrency", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 20 answers correct" in done.stdout
    assert "requests/s" in done.stdout and "p99" in done.stdout
