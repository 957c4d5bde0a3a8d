"""Load check of a generated web API: concurrent POST /run against uvicorn on 127.0.0.1.

Builds examples/churn_deploy.ipynb with --api into a temporary folder, serves it with uvicorn on
a free port of 127.0.0.1, sends a bounded number of concurrent requests with varied parameters,
checks every answer against run() called in this process, and prints throughput and latency
percentiles next to two peers measured in the same run: run() called directly (the work itself)
and GET /health (the server's own cost). Exits 1 if any answer is wrong or the time runs out.

    .venv/bin/python benchmarks/api_load.py [--requests 400] [--concurrency 16] [--timeout 120]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "churn_deploy.ipynb"
PACKAGE = "churn_deploy"
HOST = "127.0.0.1"  # never any other interface


@dataclass(frozen=True)
class Timing:
    """Latencies of one batch of requests and the wall time it took."""

    latencies: list[float]
    wall: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def parameters(index: int) -> dict[str, Any]:
    """Varied parameters, so that a server mixing up requests gives wrong answers."""
    return {
        "n_customers": 50 + (index % 20) * 10,
        "seed": index % 7,
        "threshold": 0.4 + index % 3 / 10,
    }


def build_project(out: Path) -> Path:
    """The example notebook built with --api; the project folder."""
    from nb2prod.build import build_notebook
    from nb2prod.options import BuildOptions

    result = build_notebook(NOTEBOOK, BuildOptions(out=out, api=True, root=ROOT))
    if not result.ok or result.dest is None:
        raise SystemExit("\n".join(result.messages) or "build failed")
    return result.dest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def uvicorn_server(project: Path, port: int) -> Iterator[str]:
    """`uvicorn churn_deploy.api:app` on 127.0.0.1:port, stopped on the way out."""
    command = [sys.executable, "-m", "uvicorn", f"{PACKAGE}.api:app", "--host", HOST]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, cwd=project, env={**os.environ, "PYTHONPATH": str(project)})
    try:
        url = f"http://{HOST}:{port}"
        wait_until_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_healthy(url: str, server: subprocess.Popen[bytes], limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with status {server.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"uvicorn did not answer on {url} within {limit:.0f} s")


def expected_answers(project: Path, count: int) -> tuple[list[Any], Timing]:
    """What each request must get: run() called here, timed as the first peer."""
    sys.path.insert(0, str(project))
    pipeline = importlib.import_module(f"{PACKAGE}.pipeline")
    api = importlib.import_module(f"{PACKAGE}.api")
    answers, latencies = [], []
    start = time.perf_counter()
    for index in range(count):
        began = time.perf_counter()
        result = pipeline.run(**parameters(index))
        latencies.append(time.perf_counter() - began)
        answers.append(json.loads(json.dumps(api.json_value(result))))
    return answers, Timing(latencies, time.perf_counter() - start)


async def load(count: int, concurrency: int, send: Callable[[int], Awaitable[float]]) -> Timing:
    """`count` calls of `send`, at most `concurrency` at a time; their latencies."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> float:
        async with gate:
            return await send(index)

    start = time.perf_counter()
    latencies = await asyncio.gather(*(one(i) for i in range(count)))
    return Timing(list(latencies), time.perf_counter() - start)


async def measure(url: str, answers: list[Any], concurrency: int) -> tuple[Timing, Timing, int]:
    """POST /run for every expected answer, then as many GET /health; wrong answers counted."""
    wrong = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def run_request(index: int) -> float:
            nonlocal wrong
            began = time.perf_counter()
            response = await client.post("/run", json=parameters(index))
            elapsed = time.perf_counter() - began
            if response.status_code != 200 or response.json() != answers[index]:
                wrong += 1
            return elapsed

        async def health_request(index: int) -> float:
            nonlocal wrong
            began = time.perf_counter()
            response = await client.get("/health")
            if response.status_code != 200:
                wrong += 1
            return time.perf_counter() - began

        runs = await load(len(answers), concurrency, run_request)
        health = await load(len(answers), concurrency, health_request)
    return runs, health, wrong


def report(runs: Timing, health: Timing, direct: Timing, concurrency: int, wrong: int) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    count = len(runs.latencies)
    lines = [
        f"POST /run: {count} requests, {concurrency} concurrent, uvicorn on {HOST} (1 worker)",
        f"  answers correct: {count - wrong}/{count}"
        if wrong
        else f"  all {count} answers correct",
        f"  throughput: {runs.throughput:.0f} requests/s",
        f"  latency: p50 {ms(runs.percentile(0.5))}, p90 {ms(runs.percentile(0.9))}, "
        f"p99 {ms(runs.percentile(0.99))}, max {ms(max(runs.latencies))}",
        "peers measured in the same run:",
        f"  run() called directly, one at a time: {direct.throughput:.0f} calls/s "
        f"(median {ms(statistics.median(direct.latencies))}); "
        f"the API serves {runs.throughput / direct.throughput:.2f}x that",
        f"  GET /health: {health.throughput:.0f} requests/s, p50 {ms(health.percentile(0.5))}; "
        f"POST /run reaches {runs.throughput / health.throughput:.2f}x of that",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=120, help="seconds for all requests")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="api-load-") as folder:
        project = build_project(Path(folder))
        answers, direct = expected_answers(project, options.requests)
        with uvicorn_server(project, free_port()) as url:
            try:
                runs, health, wrong = asyncio.run(
                    asyncio.wait_for(measure(url, answers, options.concurrency), options.timeout)
                )
            except TimeoutError:
                print(f"not done within {options.timeout:.0f} s", file=sys.stderr)
                return 1
    print(report(runs, health, direct, options.concurrency, wrong))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
