"""A worker part that follows a compacted topic from its beginning and hands every record's
value to a callback: how each worker keeps the policies in force and the risk levels (small
tables that every worker needs whole, whichever partitions it owns)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ...ops import kafka_clients
from ...ops.settings import RaiwatchSettings

POLL_MS = 500


class TopicFollower:
    """Reads `topic` (all partitions, read_committed) from the beginning, then as it grows."""

    def __init__(self, settings: RaiwatchSettings, topic: str, on_value: Callable[[bytes | None], Any]) -> None:
        self.settings, self.topic, self.on_value = settings, topic, on_value
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        from aiokafka import TopicPartition

        consumer = kafka_clients.consumer(self.settings, enable_auto_commit=False, isolation_level="read_committed",
                                          auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.topic) or {0}
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not self._stopping.is_set():
                for records in (await consumer.getmany(timeout_ms=POLL_MS)).values():
                    for record in records:
                        self.on_value(record.value)
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stopping.set()
