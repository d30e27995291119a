"""The local ClickHouse server: start, health (/ping), stop, and its users.

Users (`users.xml`, rewritten at every start): `default` without a password and only from
loopback (the embedded server's own session logs in as it, and `stack down` stops the server
through it); the workers' user `clickhouse.user` with `clickhouse.password` when it is not
`default`; and, when `stack.clickhouse_reader_user` is set, a read-only user for dashboards.
Passwords are stored as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import sys
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

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
    write_users(settings, directory / "users.xml")
    argv = [
        sys.executable, "-m", SERVER_MODULE, "--dir", str(directory), "--host", settings.stack.host,
        "--http-port", str(settings.stack.clickhouse_http_port), "--tcp-port", str(settings.stack.clickhouse_tcp_port),
    ]
    return proc.start(argv, cwd=directory)


def write_users(settings: RaiwatchSettings, path: Path) -> None:
    """The server's users (see the module docstring)."""
    loopback = "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
    users = [f"<default><password></password>{loopback}<profile>default</profile><quota>default</quota></default>"]

    def user(name: str, password: str, profile: str) -> str:
        digest = hashlib.sha256(password.encode()).hexdigest()
        return (f"<{escape(name)}><password_sha256_hex>{digest}</password_sha256_hex>{loopback}"
                f"<profile>{profile}</profile><quota>default</quota></{escape(name)}>")

    if settings.clickhouse.user != "default":
        users.append(user(settings.clickhouse.user, settings.clickhouse.password.get_secret_value(), "default"))
    reader = settings.stack.clickhouse_reader_user
    if reader:
        password = settings.stack.clickhouse_reader_password
        users.append(user(reader, password.get_secret_value() if password else "", "readonly"))
    path.write_text("<clickhouse><profiles><default/><readonly><readonly>1</readonly></readonly></profiles>"
                    f"<quotas><default/></quotas><users>{''.join(users)}</users></clickhouse>\n")
    path.chmod(0o600)


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
