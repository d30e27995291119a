"""`stack up | status | down` on a private stack: health, idempotent up, stale pid files,
data kept across restart, and nothing left running after down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from raiwatch.ops import stack
from raiwatch.ops.replay import replay
from raiwatch.ops.stack.clickhouse import clickhouse_process
from raiwatch.ops.stack.kafka import kafka_process
from raiwatch.ops.tail import tail
from raiwatch.schemas.clickhouse import clickhouse_client

from ..stack_fixtures import isolated_stack_settings

pytestmark = pytest.mark.integration


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (our marker: the private home directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def run_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.environment()}
    return subprocess.run([sys.executable, "-m", "raiwatch.ops.cli", *args], env=env, capture_output=True, text=True, timeout=180)


def test_lifecycle(tmp_path: Path) -> None:
    settings = isolated_stack_settings(tmp_path / "home")
    try:
        result = run_cli(settings, "stack", "up", "--json")
        assert result.returncode == 0, result.stderr
        status = orjson.loads(run_cli(settings, "stack", "status", "--json").stdout)
        assert status["kafka"]["healthy"] and status["clickhouse"]["healthy"]
        pids = {name: status[name]["pid"] for name in ("kafka", "clickhouse")}
        assert all(pids.values())

        # A second `up` while healthy does nothing.
        assert run_cli(settings, "stack", "up").returncode == 0
        again = orjson.loads(run_cli(settings, "stack", "status", "--json").stdout)
        assert {name: again[name]["pid"] for name in pids} == pids

        # Data written now must survive a restart.
        client = clickhouse_client(settings)
        client.command("CREATE TABLE IF NOT EXISTS keep (n UInt32) ENGINE = MergeTree ORDER BY n")
        client.insert("keep", [[i] for i in range(100)], column_names=["n"])
        traffic = tmp_path / "t.jsonl"
        traffic.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(25)))
        asyncio.run(replay(settings, traffic, topic="rai.incidents"))

        down = run_cli(settings, "stack", "down", "--json")
        assert down.returncode == 0
        assert "stopped" in orjson.loads(down.stdout)["kafka"]
        assert processes_mentioning(str(settings.stack.home_dir)) == []
        status = run_cli(settings, "stack", "status", "--json")
        assert status.returncode == 1 and not orjson.loads(status.stdout)["kafka"]["healthy"]

        # A stale pid file (a pid that is not ours) is cleaned up, not signalled.
        kafka_process(settings).pid_file.write_text(f"{os.getpid()}\n")
        clickhouse_process(settings).pid_file.write_text("999999\n")
        assert run_cli(settings, "stack", "up").returncode == 0
        assert kafka_process(settings).pid() not in (None, os.getpid())

        assert clickhouse_client(settings).query("SELECT count(), sum(n) FROM keep").result_rows == [(100, 4950)]
        kept = asyncio.run(tail(settings, "rai.incidents", 100))
        assert sorted(orjson.loads(m.value)["n"] for m in kept) == list(range(25))
    finally:
        stack.down(settings)
    assert processes_mentioning(str(settings.stack.home_dir)) == []
