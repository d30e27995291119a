"""The transactional loop on the real broker with a test handler: a record whose processing
raises goes to the DLQ with its reason and bytes, and the rest of its partition is processed,
each record exactly once (read_committed)."""

from __future__ import annotations

import asyncio
import time

import pytest

from raiwatch.schemas.dead_letters import DeadLetterV1
from raiwatch.streams.txloop import LoopHandler, LoopSpec, Outbox, TransactionalLoop

from .pipeline_helpers import committed_records

pytestmark = pytest.mark.integration

POISON = b"poison"


class UpperCaseHandler(LoopHandler):
    """Publishes each value upper-cased; raises on the poison value, as a bug would."""

    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic

    async def process(self, records: list, outbox: Outbox) -> None:
        for record in records:
            if record.value == POISON:
                raise ValueError("cannot process this record")
            await outbox.send(self.out_topic, record.value.upper(), key=record.key)
        return None


def test_a_poison_record_goes_to_the_dlq_and_does_not_block_its_partition(fresh_settings) -> None:
    settings = fresh_settings
    source, out, dlq = (settings.topic(name) for name in ("rai.prompts", "rai.outputs", "rai.dlq"))
    values = [f"value-{i}".encode() for i in range(20)]
    values[7] = POISON

    async def scenario() -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            for value in values:  # one partition: order matters
                await (await producer.send(source, value, key=b"k", partition=0))
        finally:
            await producer.stop()
        spec = LoopSpec(name="test", topics=[source], group_id=f"{settings.topic_prefix}test", max_records=50,
                        window_s=0.02, dlq_topic=dlq)
        task = asyncio.create_task(TransactionalLoop(settings, spec, UpperCaseHandler(out)).run())
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not task.done():
                done = await asyncio.to_thread(committed_records, settings, "rai.outputs")
                if len(done) >= len(values) - 1:
                    break
                await asyncio.sleep(1.0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    outputs = [r.value for r in committed_records(settings, "rai.outputs")]
    assert outputs == [v.upper() for v in values if v != POISON]
    letters = [DeadLetterV1.model_validate_json(r.value) for r in committed_records(settings, "rai.dlq")]
    assert len(letters) == 1
    letter = letters[0]
    assert letter.reason == "processing_error" and "cannot process this record" in letter.detail
    assert letter.original() == POISON and letter.source_topic == source and letter.source_offset == 7
