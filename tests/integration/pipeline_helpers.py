"""Helpers for end-to-end pipeline tests: a worker process per test, traffic, counts."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson

from raiwatch.ops.pipeline_run import start_worker, stop_worker
from raiwatch.ops.replay import replay
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

    def __init__(self, settings, log_dir: Path) -> None:
        self.settings, self.log_dir, self.proc, self.starts = settings, log_dir, None, 0

    def start(self) -> None:
        self.starts += 1
        self.proc = start_worker(self.settings, self.log_dir / "worker.log")

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_worker(self.proc)

    def log(self) -> str:
        path = self.log_dir / "worker.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""
