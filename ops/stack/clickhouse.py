"""The local ClickHouse server: start, health (/ping), stop, and a client factory."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from ..settings import RaiwatchSettings
from .process import ManagedProcess

SERVER_MODULE = "raiwatch.ops.stack.clickhouse_server"


def clickhouse_dir(settings: RaiwatchSettings) -> Path:
    """Server config and data (kept across restarts)."""
    return settings.stack.home_dir / "clickhouse"


def clickhouse_process(settings: RaiwatchSettings) -> ManagedProcess:
    """The server as a managed process; its marker is its own directory."""
    run = settings.stack.home_dir / "run"
    return ManagedProcess(
        name="clickhouse",
        pid_file=run / "clickhouse.pid",
        log_file=run / "clickhouse.log",
        marker=f"{SERVER_MODULE} --dir {clickhouse_dir(settings)}",
    )


def start(settings: RaiwatchSettings) -> int:
    """Start the server if ours is not running; returns its pid."""
    proc = clickhouse_process(settings)
    pid = proc.pid()
    if pid is not None:
        return pid
    directory = clickhouse_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", SERVER_MODULE, "--dir", str(directory), "--host", settings.stack.host,
        "--http-port", str(settings.stack.clickhouse_http_port), "--tcp-port", str(settings.stack.clickhouse_tcp_port),
    ]
    return proc.start(argv, cwd=directory)


def is_healthy(host: str, http_port: int, timeout_s: float = 3.0) -> tuple[bool, str]:
    """GET /ping answers `Ok.` on a healthy server."""
    try:
        with urllib.request.urlopen(f"http://{host}:{http_port}/ping", timeout=timeout_s) as response:
            body = response.read().decode().strip()
    except OSError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return body == "Ok.", f"/ping answered {body!r}"


def stop(settings: RaiwatchSettings, timeout_s: float = 30.0) -> str:
    """End the keep-alive query (clean shutdown), falling back to SIGTERM/SIGKILL."""
    return clickhouse_process(settings).stop(timeout_s)
