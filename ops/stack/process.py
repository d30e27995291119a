"""Background processes of the local stack: pid files, liveness, start and stop.

A pid file alone is not proof: after a reboot or a crash the pid may belong to another
program. A process counts as ours only if it is alive *and* its command line carries the
service's marker (its config path), so `down` never signals a stranger.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ManagedProcess:
    """A background service identified by a pid file and a command-line marker."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str

    def pid(self) -> int | None:
        """The live pid of our process, or None; a stale pid file is removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _cmdline(pid) is not None and self.marker in _cmdline(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
        """Start `argv` detached (own session, output to the log file) and record its pid."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        self._await_exec(proc)
        return proc.pid

    def _await_exec(self, proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
        """Wait until the child runs the service (its command line carries the marker) or has
        exited. Between fork and exec the child still shows the parent's command line; a
        `pid()` in that window took it for a stranger, dropped the pid file and reported the
        service dead while it went on starting, unmanaged (seen under load in CI)."""
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            cmdline = _cmdline(proc.pid)
            if cmdline is not None and self.marker in cmdline:
                return
            time.sleep(0.005)

    def stop(self, timeout_s: float = 30.0) -> str:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL. Returns what happened, for the report."""
        pid = self.pid()
        if pid is None:
            return "not running"
        os.kill(pid, signal.SIGTERM)
        if wait_for_exit(pid, timeout_s):
            outcome = f"stopped (pid {pid})"
        else:
            os.kill(pid, signal.SIGKILL)
            wait_for_exit(pid, 10.0)
            outcome = f"killed after {timeout_s:.0f}s without exiting (pid {pid})"
        self.pid_file.unlink(missing_ok=True)
        return outcome

    def log_tail(self, lines: int = 20) -> str:
        """Last lines of the log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if _is_zombie(pid):
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    return _cmdline(pid) is not None


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """Poll until `pid` is gone (reaping it if it is our child); True if it exited in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return False
