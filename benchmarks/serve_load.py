"""Serving speed side by side: the generated POST /predict against a hand-written endpoint.

Builds examples/listings_deploy.ipynb with --api into a temporary folder, trains it once, and
serves the artifacts with uvicorn on free ports of 127.0.0.1, twice: the generated app
(`listings_deploy.api:app`) and a minimal hand-written FastAPI app for the same model
(benchmarks/serve_handwritten.py). Each run starts both servers afresh and sends them listings
from the example's data: one request at a time, each case to both servers in turn, then
concurrent batches that alternate the servers every round; then both apps are called through
ASGI in this process, without a network or another process. Every answer is checked against
the loaded function called in this process. It reports p50 and p99 latency and throughput of
each, and of the function called directly, and the ratio of the p50s per run with their median.
No test depends on these times; `--check` exits 1 when a median ratio is above 1.1x, and any
wrong answer exits 1.

    .venv/bin/python benchmarks/serve_load.py [--runs 3] [--rounds 5] [--requests 200]
        [--concurrency 8] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from api_load import free_port, wait_until_healthy  # the same servers' start, on 127.0.0.1

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "listings_deploy.ipynb"
DATA = ROOT / "examples" / "data" / "2024-05-01_listings.csv"
PACKAGE = "listings_deploy"
HOST = "127.0.0.1"  # never any other interface
WITHIN = 1.1  # the generated endpoint's p50 against the hand-written one's


@dataclass
class Timing:
    """Latencies of requests of one kind, over every round, and the wall time they took."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0

    def add(self, latencies: list[float], wall: float) -> None:
        self.latencies += latencies
        self.wall += wall

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def listings(count: int) -> list[dict[str, Any]]:
    """Listings as the booking page sends them, from the example's data (priced rows only)."""
    found: list[dict[str, Any]] = []
    with DATA.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if not row["price"]:
                continue
            found.append(
                {
                    "neighbourhood": row["neighbourhood"],
                    "bedrooms": int(row["bedrooms"]),
                    "bathrooms": int(row["bathrooms"]),
                    "price": float(row["price"]),
                    "distance_km": float(row["distance_km"]),
                    "review_score": float(row["review_score"]),
                    "instant_book": row["instant_book"] == "True",
                }
            )
    return [found[i % len(found)] for i in range(count)]


def build_and_train(out: Path) -> tuple[Path, Path]:
    """The example built with --api and trained in a process of its own: (project, artifacts)."""
    from nb2prod.build import build_notebook
    from nb2prod.options import BuildOptions

    result = build_notebook(NOTEBOOK, BuildOptions(out=out, api=True, root=ROOT))
    if not result.ok or result.dest is None:
        raise SystemExit("\n".join(result.messages) or "build failed")
    artifacts = out / "artifacts"
    code = f"import {PACKAGE}; {PACKAGE}.train({str(artifacts)!r})"
    env = {**os.environ, "PYTHONPATH": str(result.dest)}
    subprocess.run(
        [sys.executable, "-c", code], cwd=NOTEBOOK.parent, env=env, check=True, capture_output=True
    )
    return result.dest, artifacts


@contextmanager
def uvicorn_server(app: str, path: list[Path], artifacts: Path) -> Iterator[str]:
    """`uvicorn APP` on a free port of 127.0.0.1, serving `artifacts`; stopped on the way out."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(map(str, path)),
        "NB2PROD_ARTIFACTS": str(artifacts),
    }
    server = subprocess.Popen(command, env=env)
    _share_a_cpu(server.pid)
    try:
        url = f"http://{HOST}:{port}"
        wait_until_healthy(url, server, limit=60)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _share_a_cpu(pid: int) -> None:
    """Put every server on the same CPU (the last one) where the system allows it: on a busy
    machine, servers the scheduler places apart see other jobs' load unevenly, and a run
    compares where they landed rather than the endpoints."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(pid, {max(os.sched_getaffinity(0))})


def direct(project: Path, artifacts: Path, cases: list[dict[str, Any]]) -> tuple[list[Any], Timing]:
    """What each request must get: the loaded function called here, timed as a peer."""
    sys.path.insert(0, str(project))
    package = __import__(PACKAGE)
    predict = package.load(artifacts).predict
    answers, latencies = [], []
    start = time.perf_counter()
    for case in cases:
        began = time.perf_counter()
        answers.append(predict(case))
        latencies.append(time.perf_counter() - began)
    return answers, Timing(latencies, time.perf_counter() - start)


def in_process(
    project: Path, artifacts: Path, cases: list[dict[str, Any]], answers: list[Any]
) -> tuple[dict[str, Timing], int]:
    """Both apps called through ASGI in this process, each case to both in turn: the cost of
    the endpoints themselves, without a network, a client or another process's scheduling."""
    os.environ["NB2PROD_ARTIFACTS"] = str(artifacts)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    apps = {
        "generated": importlib.import_module(f"{PACKAGE}.api").app,
        "hand-written": importlib.import_module("serve_handwritten").app,
    }
    latencies: dict[str, list[float]] = {name: [] for name in apps}
    wrong = 0

    async def run() -> None:
        nonlocal wrong
        for index, (case, answer) in enumerate(zip(cases, answers, strict=True)):
            order = list(apps) if index % 2 == 0 else list(reversed(apps))
            for name in order:
                began = time.perf_counter()
                status, body = await _asgi_post(apps[name], "/predict", {"listing": case})
                latencies[name].append(time.perf_counter() - began)
                wrong += not (status == 200 and json.loads(body) == answer)

    asyncio.run(run())
    return {name: Timing(times, sum(times)) for name, times in latencies.items()}, wrong


async def _asgi_post(app: Any, path: str, payload: object) -> tuple[int, bytes]:
    """One POST of a JSON body straight to an ASGI app; its status and body."""
    body = json.dumps(payload).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        "client": (HOST, 1),
        "server": (HOST, 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def sequential(url: str, cases: list[dict[str, Any]], answers: list[Any]) -> tuple[Timing, int]:
    """One request at a time over one kept-alive connection; the wrong answers counted."""
    timings, wrong = interleaved({"one": url}, cases, answers)
    return timings["one"], wrong


def interleaved(
    urls: dict[str, str], cases: list[dict[str, Any]], answers: list[Any]
) -> tuple[dict[str, Timing], int]:
    """One request at a time, each case sent to every server in turn (over one kept-alive
    connection each), so that a busy moment of the machine hits them alike."""
    wrong = 0
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    walls = dict.fromkeys(urls, 0.0)
    clients = {name: httpx.Client(base_url=url, timeout=60) for name, url in urls.items()}
    try:
        for index, (case, answer) in enumerate(zip(cases, answers, strict=True)):
            order = list(clients) if index % 2 == 0 else list(reversed(clients))
            for name in order:
                began = time.perf_counter()
                response = clients[name].post("/predict", json={"listing": case})
                elapsed = time.perf_counter() - began
                latencies[name].append(elapsed)
                walls[name] += elapsed
                wrong += not _right(response, answer)
    finally:
        for client in clients.values():
            client.close()
    return {name: Timing(latencies[name], walls[name]) for name in urls}, wrong


async def concurrent(
    url: str, cases: list[dict[str, Any]], answers: list[Any], concurrency: int
) -> tuple[Timing, int]:
    """`concurrency` requests at a time; the wrong answers counted."""
    wrong = 0
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(case: dict[str, Any], answer: Any) -> float:
            nonlocal wrong
            async with gate:
                began = time.perf_counter()
                response = await client.post("/predict", json={"listing": case})
                elapsed = time.perf_counter() - began
                wrong += not _right(response, answer)
                return elapsed

        start = time.perf_counter()
        pairs = zip(cases, answers, strict=True)
        latencies = await asyncio.gather(*(one(case, answer) for case, answer in pairs))
    return Timing(list(latencies), time.perf_counter() - start), wrong


def _right(response: httpx.Response, answer: Any) -> bool:
    return response.status_code == 200 and response.json() == json.loads(json.dumps(answer))


@dataclass
class Results:
    """Every timing of one run (or of several pooled), by server and kind, and the wrong
    answers."""

    timings: dict[tuple[str, str], Timing] = field(default_factory=dict)
    wrong: int = 0
    answers: int = 0

    def add(self, server: str, kind: str, timing: Timing, wrong: int) -> None:
        self.timings.setdefault((server, kind), Timing()).add(timing.latencies, timing.wall)
        self.wrong += wrong
        self.answers += len(timing.latencies)

    def ratio(self, kind: str) -> float:
        generated = self.timings["generated", kind].percentile(0.5)
        return generated / self.timings["hand-written", kind].percentile(0.5)


def measure(
    urls: dict[str, str], cases: list[dict[str, Any]], answers: list[Any], rounds: int, width: int
) -> Results:
    """One request at a time to each server in turn, then concurrent batches that alternate
    the servers every round, so that a busy moment of the machine hits both."""
    results = Results()
    for number in range(rounds):
        timings, wrong = interleaved(urls, cases, answers)
        for server, timing in timings.items():
            results.add(server, "sequential", timing, 0)
        results.wrong += wrong
        order = list(urls) if number % 2 == 0 else list(reversed(urls))
        for server in order:
            timing, wrong = asyncio.run(concurrent(urls[server], cases, answers, width))
            results.add(server, "concurrent", timing, wrong)
    return results


KINDS = ("sequential", "concurrent", "in-process")


def report(runs: list[Results], function: Timing, options: argparse.Namespace) -> str:
    """The pooled table of every run, then each run's ratios of the p50s and their median."""
    pooled = Results()
    for run in runs:
        for (server, kind), timing in run.timings.items():
            pooled.add(server, kind, timing, 0)
        pooled.wrong += run.wrong

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f} ms"

    def row(label: str, timing: Timing) -> str:
        p50, p99 = ms(timing.percentile(0.5)), ms(timing.percentile(0.99))
        return f"| {label} | {p50} | {p99} | {timing.throughput:.0f} |"

    width = options.concurrency
    labels = {"sequential": "one at a time", "concurrent": f"{width} at a time"}
    labels["in-process"] = "ASGI in-process"
    lines = [
        f"POST /predict: {len(runs)} runs, each with its own two uvicorn servers on {HOST} "
        f"(1 worker each) and {options.rounds} rounds of {options.requests} requests per kind",
        "",
        "| | p50 | p99 | requests/s |",
        "|---|---:|---:|---:|",
    ]
    for kind in KINDS:
        for server in ("generated", "hand-written"):
            lines.append(row(f"{server}, {labels[kind]}", pooled.timings[server, kind]))
    lines.append(row("predict() called directly", function))
    lines += ["", "generated / hand-written p50, per run:"]
    for kind in KINDS:
        ratios = [run.ratio(kind) for run in runs]
        shown = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
        lines.append(f"  {labels[kind]}: {shown}; median {statistics.median(ratios):.2f}x")
    worst = max(statistics.median(run.ratio(kind) for run in runs) for kind in KINDS[:2])
    verdict = "within" if worst <= WITHIN else "NOT within"
    lines += [
        f"medians {verdict} {WITHIN}x",
        f"answers correct: {pooled.answers - pooled.wrong}/{pooled.answers}",
    ]
    return "\n".join(lines)


def one_run(
    project: Path,
    artifacts: Path,
    cases: list[dict[str, Any]],
    answers: list[Any],
    options: argparse.Namespace,
    number: int,
) -> Results:
    """Both servers started afresh (in turns, first one then the other), measured, stopped;
    then the in-process peers, with the machine to themselves."""
    apps = {
        "generated": (f"{PACKAGE}.api:app", [project]),
        "hand-written": ("serve_handwritten:app", [project, ROOT / "benchmarks"]),
    }
    order = list(apps) if number % 2 == 0 else list(reversed(apps))
    with ExitStack() as servers:
        urls = {
            name: servers.enter_context(uvicorn_server(*apps[name], artifacts)) for name in order
        }
        results = measure(urls, cases, answers, options.rounds, options.concurrency)
    for _ in range(options.rounds):
        timings, wrong = in_process(project, artifacts, cases, answers)
        for server, timing in timings.items():
            results.add(server, "in-process", timing, 0)
        results.wrong += wrong
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {WITHIN}x")
    options = parser.parse_args(argv)
    cases = listings(options.requests)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as folder:
        project, artifacts = build_and_train(Path(folder))
        answers, function = direct(project, artifacts, cases)
        runs = [
            one_run(project, artifacts, cases, answers, options, number)
            for number in range(options.runs)
        ]
    print(report(runs, function, options))
    worst = max(statistics.median(run.ratio(kind) for run in runs) for kind in KINDS[:2])
    wrong = sum(run.wrong for run in runs)
    return 1 if wrong or (options.check and worst > WITHIN) else 0


if __name__ == "__main__":
    sys.exit(main())
