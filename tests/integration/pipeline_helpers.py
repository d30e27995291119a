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


def committed_records(settings, name: str) -> list:
    """Every record of registry topic `name` that a read_committed consumer sees (what the stages'
    transactions committed), read from the beginning to the current end."""

    async def read() -> list:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from raiwatch.schemas.registry import topic_spec

        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                                    isolation_level="read_committed", auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(settings.topic(name), p) for p in range(topic_spec(name).partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            records = []
            while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    records.extend(batch)
            return records
        finally:
            await consumer.stop()

    return asyncio.run(read())


def assert_exactly_once_on_topics(settings, requests: int, malformed: int) -> None:
    """Topic to topic is exactly-once: rai.verdicts holds one committed verdict per request
    (no judge stage here) and rai.dlq one record per malformed message, with no duplicates."""
    verdicts = committed_records(settings, "rai.verdicts")
    ids = Counter(orjson.loads(r.value)["verdict_id"] for r in verdicts)
    assert len(ids) == requests, f"{len(ids)} distinct verdicts for {requests} requests"
    assert sum(ids.values()) == requests, f"duplicated verdicts: {[(k, n) for k, n in ids.items() if n > 1][:5]}"
    dead = committed_records(settings, "rai.dlq")
    assert len(dead) == malformed, f"{len(dead)} dead letters for {malformed} malformed messages"
