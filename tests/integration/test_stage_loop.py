"""The stage loop on the real broker with a test handler: a record whose processing raises goes
to the DLQ with its reason and bytes, and the rest of its partition is processed, each record
exactly once (read_committed)."""

from __future__ import annotations

import asyncio
import time

import pytest

from raiwatch.schemas.dead_letters import DeadLetterV2
from raiwatch.streams.runtime.context import StageContext
from raiwatch.streams.runtime.loop import Handler, LoopSpec, StageLoop

from .pipeline_helpers import committed_records

pytestmark = pytest.mark.integration

POISON = b"poison"


class UpperCaseHandler(Handler):
    """Publishes each value upper-cased; raises on the poison value, as a bug would."""

    def __init__(self, store, out_topic: str) -> None:
        self.store, self.out_topic = store, out_topic

    async def process(self, records: list, checkpoint) -> None:
        for record in records:
            if record.value == POISON:
                raise ValueError("cannot process this record")
            await checkpoint.send(self.out_topic, record.value.upper(), key=record.key)


def test_a_poison_record_goes_to_the_dlq_and_does_not_block_its_partition(fresh_settings) -> None:
    settings = fresh_settings
    # Borrowed registry topics: a source, an output, and a changelog with one partition each used.
    source, out, changelog, dlq = (settings.topic(name) for name in ("rai.prompts", "rai.outputs", "rai.verdicts",
                                                                      "rai.dlq"))
    values = [f"value-{i}".encode() for i in range(20)]
    values[7] = POISON

    async def scenario() -> None:
        from raiwatch.ops import kafka_clients

        producer = kafka_clients.producer(settings)
        await producer.start()
        try:
            for value in values:  # one partition: order matters
                await (await producer.send(source, value, key=b"k", partition=0))
        finally:
            await producer.stop()
        ctx = StageContext(settings=settings, topics=None, policies=None)
        spec = LoopSpec(name="test", topics=(source,), group_id=f"{settings.kafka.topic_prefix}test", max_records=50,
                        window_s=0.02, dlq_topic=dlq)
        loop = StageLoop(settings, spec, UpperCaseHandler(ctx.changelog_store(changelog), out))
        task = asyncio.create_task(loop.run())
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not task.done():
                done = await asyncio.to_thread(committed_records, settings, "rai.outputs")
                if len(done) >= len(values) - 1:
                    break
                await asyncio.sleep(1.0)
        finally:
            loop.stop()
            await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    outputs = [r.value for r in committed_records(settings, "rai.outputs")]
    assert outputs == [v.upper() for v in values if v != POISON]
    letters = [DeadLetterV2.from_record(r.key, r.value, r.headers) for r in committed_records(settings, "rai.dlq")]
    assert len(letters) == 1
    letter = letters[0]
    assert letter.reason == "processing_error" and "cannot process this record" in letter.detail
    assert letter.original == POISON and letter.source_topic == source and letter.source_offset == 7
