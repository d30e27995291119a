"""Chaos tooling shared by the chaos test and `ops/bench/chaos.py`: an independent producer
(librdkafka through confluent-kafka, the way a service in another language would publish), a
fleet of worker processes to kill, stop and add, a watch on every input partition's progress,
and the check of the delivery contract at the end."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..schemas.clickhouse import clickhouse_client
from . import kafka_clients
from .pipeline_run import start_worker, stop_worker
from .replay import envelope_message
from .settings import RaiwatchSettings
from .topics import partition_ids


@dataclass
class Expected:
    """What the published traffic must become: one verdict per request, one dead letter per
    malformed message, partial verdicts only for requests that had one side."""

    requests: set[str] = field(default_factory=set)
    paired: set[str] = field(default_factory=set)
    malformed: int = 0

    @classmethod
    def of(cls, envelopes: list[dict]) -> Expected:
        sides: dict[str, set[str]] = {}
        expected = cls()
        for envelope in envelopes:
            value = envelope.get("value")
            if isinstance(value, dict) and "request_id" in value and value.get("schema_version") == 1 and "model" in value:
                sides.setdefault(value["request_id"], set()).add(envelope["topic"])
            else:
                expected.malformed += 1
        expected.requests = set(sides)
        expected.paired = {r for r, s in sides.items() if len(s) == 2}
        return expected


class IndependentProducer(threading.Thread):
    """Publishes envelopes at `rate` messages/s with confluent-kafka (idempotent, lz4)."""

    def __init__(self, settings: RaiwatchSettings, envelopes: list[dict], rate: float,
                 compression: str = "lz4") -> None:
        super().__init__(daemon=True, name="independent-producer")
        self.settings, self.envelopes, self.rate, self.compression = settings, envelopes, rate, compression
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from confluent_kafka import Producer

        try:
            producer = Producer({"bootstrap.servers": self.settings.bootstrap_servers, "enable.idempotence": True,
                                 "linger.ms": 5, "compression.type": self.compression,
                                 "message.max.bytes": 4 * 1024 * 1024})
            started = time.monotonic()
            for index, envelope in enumerate(self.envelopes):
                message = envelope_message(envelope)
                producer.produce(self.settings.topic(message.topic), message.value, message.key)
                producer.poll(0)
                self.sent = index + 1
                delay = started + (index + 1) / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            remaining = producer.flush(60)
            if remaining:
                raise RuntimeError(f"{remaining} messages not delivered")
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc


class WorkerFleet:
    """Worker processes by worker id, each logging to its own file."""

    def __init__(self, settings: RaiwatchSettings, log_dir: Path, loglevel: str = "INFO") -> None:
        self.settings, self.log_dir, self.loglevel = settings, log_dir, loglevel
        self.procs: dict[str, Any] = {}
        self.starts: Counter = Counter()
        self.events: list[tuple[float, str, str]] = []  # (monotonic time, action, worker id)

    def start(self, worker_id: str) -> None:
        self.starts[worker_id] += 1
        path = self.log_dir / f"worker-{worker_id}-{self.starts[worker_id]}.log"
        self.procs[worker_id] = start_worker(self.settings, path, worker_id=worker_id, loglevel=self.loglevel)
        self.events.append((time.monotonic(), "start", worker_id))

    def kill9(self, worker_id: str) -> None:
        proc = self.procs.pop(worker_id)
        proc.kill()
        proc.wait()
        self.events.append((time.monotonic(), "kill -9", worker_id))

    def sigterm(self, worker_id: str, timeout_s: float = 90) -> int:
        """Stop with SIGTERM; returns the exit code."""
        proc = self.procs.pop(worker_id)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=timeout_s)
        self.events.append((time.monotonic(), f"SIGTERM (exit {code})", worker_id))
        return code

    def running(self) -> list[str]:
        return [w for w, p in self.procs.items() if p.poll() is None]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            stop_worker(proc)
        self.procs.clear()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in sorted(self.log_dir.glob("*.log")))


class PartitionWatch(threading.Thread):
    """Samples a consumer group's committed offsets and the log ends of its input partitions
    every `interval_s`; the longest time each partition went without progress while records
    waited is its worst stall (the recovery time after a fault)."""

    def __init__(self, settings: RaiwatchSettings, group_id: str, topics: list[str], interval_s: float = 1.0) -> None:
        super().__init__(daemon=True, name="partition-watch")
        self.settings, self.group_id, self.topics, self.interval_s = settings, group_id, topics, interval_s
        self.worst_stall_s: dict[str, float] = {}
        self._moved: dict[str, tuple[int, float]] = {}
        self._stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._watch())

    def stop(self) -> dict[str, float]:
        self._stopping.set()
        self.join(30)
        return dict(self.worst_stall_s)

    async def _watch(self) -> None:
        from aiokafka import TopicPartition

        admin = kafka_clients.admin(self.settings, request_timeout_ms=5000)
        consumer = kafka_clients.consumer(self.settings, enable_auto_commit=False)
        await admin.start()
        await consumer.start()
        try:
            tps = [TopicPartition(t, p) for t in self.topics for p in await partition_ids(self.settings, t)]
            while not self._stopping.is_set():
                try:
                    ends = await consumer.end_offsets(tps)
                    committed = await admin.list_consumer_group_offsets(self.group_id, partitions=tps)
                except Exception:  # noqa: BLE001 - the broker may be restarting in a chaos run
                    await asyncio.sleep(self.interval_s)
                    continue
                now = time.monotonic()
                for tp in tps:
                    name = f"{tp.topic}[{tp.partition}]"
                    meta = committed.get(tp)
                    offset = meta.offset if meta is not None and meta.offset >= 0 else 0
                    last = self._moved.get(name)
                    if last is None or last[0] != offset or offset >= ends[tp]:
                        self._moved[name] = (offset, now)
                    else:
                        self.worst_stall_s[name] = max(self.worst_stall_s.get(name, 0.0), now - last[1])
                await asyncio.sleep(self.interval_s)
        finally:
            await consumer.stop()
            await admin.close()


def delivery_report(settings: RaiwatchSettings, expected: Expected) -> dict[str, Any]:
    """Everything the delivery contract promises, measured: ClickHouse with and without FINAL,
    the topics read_committed, partial verdicts of paired requests."""
    from .topic_reader import committed_records

    client = clickhouse_client(settings)
    try:
        final = client.query("SELECT count(), countIf(partial) FROM verdicts FINAL").result_rows[0]
        plain_verdicts = client.query("SELECT count() FROM verdicts").result_rows[0][0]
        dead_final = client.query("SELECT count() FROM dead_letters FINAL").result_rows[0][0]
        dead_plain = client.query("SELECT count() FROM dead_letters").result_rows[0][0]
        partial_ids = {r for (r,) in client.query("SELECT request_id FROM verdicts FINAL WHERE partial").result_rows}
        stored_ids = {r for (r,) in client.query("SELECT DISTINCT request_id FROM verdicts").result_rows}
    finally:
        client.close()
    verdict_records = committed_records(settings, settings.topic("rai.verdicts"))
    per_request = Counter(orjson.loads(r.value)["request_id"] for r in verdict_records)
    dead_records = committed_records(settings, settings.topic("rai.dlq"))
    return {
        "requests": len(expected.requests), "malformed": expected.malformed,
        "verdicts_final": final[0], "verdicts_plain": plain_verdicts,
        "dead_letters_final": dead_final, "dead_letters_plain": dead_plain,
        "verdicts_on_topic": len(verdict_records), "requests_with_two_verdicts_on_topic":
            sum(1 for n in per_request.values() if n > 1),
        "dead_letters_on_topic": len(dead_records),
        "missing_requests": len(expected.requests - stored_ids),
        "paired_marked_partial": len(partial_ids & expected.paired),
    }


def contract_holds(report: dict[str, Any]) -> bool:
    """Exactly one verdict per request and one dead letter per malformed message, everywhere."""
    return (report["verdicts_final"] == report["verdicts_plain"] == report["verdicts_on_topic"] == report["requests"]
            and report["dead_letters_final"] == report["dead_letters_plain"] == report["dead_letters_on_topic"]
            == report["malformed"]
            and report["missing_requests"] == 0 and report["requests_with_two_verdicts_on_topic"] == 0
            and report["paired_marked_partial"] == 0)


def lagging_partitions(settings: RaiwatchSettings, group_id: str, topics: list[str]) -> dict[str, int]:
    """Input partitions whose committed offset is behind the log end: `{name: records behind}`
    (empty when the group has consumed everything)."""

    async def lags() -> dict[str, int]:
        from aiokafka import TopicPartition

        admin = kafka_clients.admin(settings, request_timeout_ms=10000)
        consumer = kafka_clients.consumer(settings, enable_auto_commit=False)
        await admin.start()
        await consumer.start()
        try:
            tps = [TopicPartition(t, p) for t in topics for p in await partition_ids(settings, t)]
            ends = await consumer.end_offsets(tps)
            committed = await admin.list_consumer_group_offsets(group_id, partitions=tps)
            behind = {}
            for tp in tps:
                meta = committed.get(tp)
                offset = meta.offset if meta is not None and meta.offset >= 0 else 0
                if offset < ends[tp]:
                    behind[f"{tp.topic}[{tp.partition}]"] = ends[tp] - offset
            return behind
        finally:
            await consumer.stop()
            await admin.close()

    return asyncio.run(lags())
