"""Start a generated web API on a free port of 127.0.0.1, send it one request, and stop it.

The last step of `make demo`: serves the trained artifacts of a package built with --api and
prints what GET /health and one POST answer.

    python examples/serve_once.py PROJECT ARTIFACTS /predict '{"listing": {...}}'
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"  # never any other interface


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def ask(url: str, body: bytes | None = None) -> tuple[int, object]:
    """The status and JSON answer of a GET (no body) or a POST of a JSON body."""
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def main(project: Path, artifacts: Path, path: str, body: str) -> int:
    port = free_port()
    package = project.name
    command = [sys.executable, "-m", "uvicorn", f"{package}.api:app", "--host", HOST]
    command += ["--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": str(project), "NB2PROD_ARTIFACTS": str(artifacts)}
    server = subprocess.Popen(command, cwd=project, env=env)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                return server.returncode or 1
            try:
                status, health = ask(f"{url}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    print(f"uvicorn did not answer on {url}", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        print(f"GET {url}/health -> {status} {json.dumps(health)}")
        status, answer = ask(f"{url}{path}", body.encode())
        print(f"POST {url}{path} {body} -> {status} {json.dumps(answer)}")
        return 0 if status == 200 else 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        print(f"stopped the server on {url}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    sys.exit(main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), *sys.argv[3:]))
