"""Read a whole topic the way downstream consumers see it (read_committed): for checks of the
delivery contract in tests, benchmarks and chaos runs."""

from __future__ import annotations

import asyncio
from typing import Any

from . import kafka_clients
from .settings import RaiwatchSettings
from .topics import partition_ids


def committed_records(settings: RaiwatchSettings, topic: str) -> list[Any]:
    """Every record of physical `topic` that a read_committed consumer sees (what transactions
    committed, and every non-transactional record), from the beginning to the current end."""
    return asyncio.run(committed_records_async(settings, topic))


async def committed_records_async(settings: RaiwatchSettings, topic: str) -> list[Any]:
    """`committed_records` inside a running event loop."""
    from aiokafka import TopicPartition

    consumer = kafka_clients.consumer(settings, enable_auto_commit=False, isolation_level="read_committed",
                                      auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partition_ids(settings, topic)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
