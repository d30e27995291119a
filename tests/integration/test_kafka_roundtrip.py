"""Keyed produce/consume through the real broker with the idempotent producer, and the
replay/tail commands' library code."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from raiwatch.ops.replay import replay
from raiwatch.ops.tail import tail
from raiwatch.ops.traffic import write_traffic
from raiwatch.schemas import decode, topic_spec
from raiwatch.schemas.common import ModelRef
from raiwatch.schemas.traffic import PromptEventV1

pytestmark = pytest.mark.integration


async def consume_all(settings, topic: str, expected: int, timeout_s: float = 30.0):
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None,
    )
    await consumer.start()
    records = []
    try:
        async def loop():
            async for record in consumer:
                records.append(record)
                if len(records) >= expected:
                    return
        await asyncio.wait_for(loop(), timeout_s)
    finally:
        await consumer.stop()
    return records


async def test_keyed_round_trip_with_idempotent_producer(fresh_settings) -> None:
    topic = fresh_settings.topic("rai.prompts")
    producer = AIOKafkaProducer(bootstrap_servers=fresh_settings.bootstrap_servers, enable_idempotence=True, acks="all")
    await producer.start()
    sent = []
    try:
        for i in range(40):
            event = PromptEventV1(event_id=f"e{i}", request_id=f"r{i % 8}", model=ModelRef(name="m"), prompt=f"p{i}")
            meta = await producer.send_and_wait(topic, event.model_dump_json().encode(), key=event.request_id.encode())
            sent.append((event, meta.partition))
    finally:
        await producer.stop()
    records = await consume_all(fresh_settings, topic, 40)
    assert len(records) == 40
    partition_of_key: dict[bytes, set[int]] = {}
    for record in records:
        partition_of_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partition_of_key.values()), "one key, one partition"
    decoded = {e.event_id: e for e in (decode(r.value, topic_spec("rai.prompts")) for r in records)}
    assert decoded == {event.event_id: event for event, _ in sent}


async def test_replay_envelopes_and_tail(fresh_settings, tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    total = write_traffic(path, requests=50, malformed=5, seed=3)
    stats = await replay(fresh_settings, path)
    assert stats.total == total
    assert set(stats.sent) == {fresh_settings.topic("rai.prompts"), fresh_settings.topic("rai.outputs")}
    prompts = stats.sent[fresh_settings.topic("rai.prompts")]
    last = await tail(fresh_settings, fresh_settings.topic("rai.prompts"), 5)
    assert len(last) == 5
    everything = await tail(fresh_settings, fresh_settings.topic("rai.prompts"), 10_000)
    assert len(everything) == prompts


async def test_replay_verbatim_lines_keep_bytes(fresh_settings, tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    lines = [b'{"schema_version": 1, "request_id": "abc"}', b"not json", b"\xff\xfe broken"]
    path.write_bytes(b"\n".join(lines) + b"\n")
    await replay(fresh_settings, path, topic="rai.outputs")
    got = await tail(fresh_settings, fresh_settings.topic("rai.outputs"), 10)
    assert sorted(m.value for m in got) == sorted(lines)
    assert {m.key for m in got if m.value == lines[0]} == {b"abc"}
