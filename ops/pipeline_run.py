"""Drive the pipeline from outside: start a worker process, wait for ClickHouse to hold the
expected counts, summarise. Used by `raiwatch demo`, the end-to-end tests and the benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..schemas.clickhouse import clickhouse_client
from .errors import RaiwatchError
from .settings import RaiwatchSettings
from .stack.process import wait_for_exit


def start_worker(settings: RaiwatchSettings, log_path: Path, worker_id: str | None = None,
                 loglevel: str = "WARNING", env: dict[str, str] | None = None) -> subprocess.Popen:
    """`raiwatch worker` as a child process with `settings` (and `worker_id`, which every
    concurrently running worker needs its own of), output to `log_path`."""
    if worker_id is not None:
        settings = settings.replace(stages__worker_id=worker_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "raiwatch.ops.cli", "worker", "--loglevel", loglevel],
            env={**os.environ, **settings.environment(), **(env or {})},
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        if not wait_for_exit(proc.pid, timeout_s):
            proc.kill()
    proc.wait()


@dataclass(frozen=True)
class Counts:
    """What ClickHouse holds after dedup."""

    verdicts: int
    dead_letters: int


def counts(settings: RaiwatchSettings) -> Counts:
    client = clickhouse_client(settings)
    try:
        verdicts = client.query("SELECT count() FROM verdicts FINAL").result_rows[0][0]
        dead = client.query("SELECT count() FROM dead_letters FINAL").result_rows[0][0]
        return Counts(verdicts, dead)
    finally:
        client.close()


def wait_for_counts(settings: RaiwatchSettings, verdicts: int, dead_letters: int, timeout_s: float,
                    worker: subprocess.Popen | None = None, settle_s: float = 3.0) -> Counts:
    """Poll until ClickHouse holds at least the expected rows, then keep watching for
    `settle_s` so that an overshoot (a double count) would show. Raises on timeout."""
    deadline = time.monotonic() + timeout_s
    last = Counts(-1, -1)
    while time.monotonic() < deadline:
        if worker is not None and worker.poll() is not None:
            raise RaiwatchError(f"the worker exited with code {worker.returncode}")
        try:
            last = counts(settings)
        except Exception:  # noqa: BLE001 - ClickHouse may be restarting in a chaos test
            time.sleep(0.5)
            continue
        if last.verdicts >= verdicts and last.dead_letters >= dead_letters:
            time.sleep(settle_s)
            return counts(settings)
        time.sleep(0.5)
    raise RaiwatchError(f"timed out after {timeout_s:.0f}s: ClickHouse holds {last}, expected "
                        f"{verdicts} verdicts and {dead_letters} dead letters")
