"""Helpers for end-to-end pipeline tests: a worker process per test, traffic, counts."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson

from raiwatch.ops.pipeline_run import start_worker, stop_worker
from raiwatch.ops.replay import replay
from raiwatch.ops.topic_reader import committed_records as read_committed
from raiwatch.ops.traffic import generate


def write_traffic_file(path: Path, requests: int, malformed: int, seed: int) -> Counter:
    """Write traffic; returns what it holds (requests, malformed, partial requests)."""
    stats: Counter = Counter()
    sides: dict[str, set[str]] = {}
    with open(path, "wb") as handle:
        for envelope in generate(requests, malformed, seed):
            handle.write(orjson.dumps(envelope) + b"\n")
            value = envelope.get("value")
            if isinstance(value, dict) and "request_id" in value and value.get("schema_version") == 1 and "model" in value:
                sides.setdefault(value["request_id"], set()).add(envelope["topic"])
            else:
                stats["malformed"] += 1
    stats["requests"] = len(sides)
    stats["partial"] = sum(1 for s in sides.values() if len(s) == 1)
    return stats


def replay_file(settings, path: Path, rate: float | None = None) -> None:
    asyncio.run(replay(settings, path, rate=rate))


class WorkerProcess:
    """A `raiwatch worker` child process that the test can kill and restart."""

    def __init__(self, settings, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.settings, self.log_dir, self.env, self.proc, self.starts = settings, log_dir, env, None, 0

    def start(self) -> None:
        self.starts += 1
        self.proc = start_worker(self.settings, self.log_dir / "worker.log", env=self.env)

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_worker(self.proc)

    def log(self) -> str:
        path = self.log_dir / "worker.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""


def committed_records(settings, name: str) -> list:
    """Every record of registry topic `name` that a read_committed consumer sees."""
    return read_committed(settings, settings.topic(name))


def assert_exactly_once_on_topics(settings, requests: int, malformed: int) -> None:
    """Topic to topic is exactly-once: rai.verdicts holds one committed verdict per request
    (no judge stage here) and rai.dlq one record per malformed message, with no duplicates."""
    verdicts = committed_records(settings, "rai.verdicts")
    ids = Counter(orjson.loads(r.value)["verdict_id"] for r in verdicts)
    assert len(ids) == requests, f"{len(ids)} distinct verdicts for {requests} requests"
    assert sum(ids.values()) == requests, f"duplicated verdicts: {[(k, n) for k, n in ids.items() if n > 1][:5]}"
    dead = committed_records(settings, "rai.dlq")
    assert len(dead) == malformed, f"{len(dead)} dead letters for {malformed} malformed messages"


def assert_exact_without_final(settings, verdicts: int, dead_letters: int) -> None:
    """No row was inserted twice: plain counts (what a dashboard without FINAL reads) equal the
    expected ones, not only the deduplicated counts."""
    from raiwatch.schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)
    plain = (client.query("SELECT count() FROM verdicts").result_rows[0][0],
             client.query("SELECT count() FROM dead_letters").result_rows[0][0])
    messages = client.query("SELECT count() FROM messages").result_rows[0][0]
    assert plain == (verdicts, dead_letters), f"without FINAL: {plain} rows for {(verdicts, dead_letters)}"
    assert messages == verdicts, f"{messages} message rows for {verdicts} requests"
