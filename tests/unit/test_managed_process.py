"""Background processes of the local stack: a process is ours from the moment `start` returns."""

from __future__ import annotations

import sys
from pathlib import Path

from raiwatch.ops.stack.process import ManagedProcess


def test_a_started_process_is_ours_even_if_it_execs_late(tmp_path: Path) -> None:
    """The child takes its time before exec (as under load): until then its command line is
    not the service's. `start` waits for the exec, so `pid()` right after it finds the process
    instead of dropping the pid file and calling the service dead."""
    marker = str(tmp_path / "service-marker")
    process = ManagedProcess("late", tmp_path / "late.pid", tmp_path / "late.log", marker)
    # The marker reaches the child by the environment, so its command line holds it only after exec.
    late_exec = ("import os, sys, time; time.sleep(0.5); "
                 "os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', os.environ['LATE_MARKER']])")
    pid = process.start([sys.executable, "-c", late_exec], cwd=tmp_path, env={"LATE_MARKER": marker})
    try:
        assert process.pid() == pid
        assert process.pid_file.exists()
    finally:
        assert process.stop(timeout_s=5.0).startswith("stopped")
    assert process.pid() is None
