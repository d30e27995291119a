"""Start a real OpenAI-compatible model server (transformers serve, vLLM) for judge tests.

The server is our child process on 127.0.0.1 and a free port; it is stopped by its own pid.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(args: list[str], port: int, log: Path, *, health: str = "/health", timeout_s: float = 300.0) -> Iterator[str]:
    """Run `python <args>` until `GET health` answers 200; yield the base URL; stop it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, env=env)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-3000:]}")
                try:
                    if httpx.get(base_url + health, timeout=2.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not healthy after {timeout_s:.0f}s: {log.read_text()[-3000:]}")
                time.sleep(1.0)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
