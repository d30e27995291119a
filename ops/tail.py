"""Read the last messages of a topic (`raiwatch tail`)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .errors import ConfigurationError
from .settings import RaiwatchSettings
from .topics import partition_ids


@dataclass(frozen=True)
class TailedMessage:
    """One message as `tail` prints it."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes

    def as_dict(self) -> dict[str, object]:
        try:
            value: object = self.value.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            value, encoding = base64.b64encode(self.value).decode(), "base64"
        return {
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": self.key.decode(errors="replace") if self.key else None,
            "value": value,
            "encoding": encoding,
        }


async def tail(settings: RaiwatchSettings, topic: str, n: int, timeout_s: float = 30.0) -> list[TailedMessage]:
    """The last `n` messages of `topic` across partitions, oldest first (by timestamp)."""
    import time

    from aiokafka import TopicPartition

    from . import kafka_clients

    consumer = kafka_clients.consumer(
        settings,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = await partition_ids(settings, topic)
        if not partitions:
            raise ConfigurationError(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return []
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        remaining = {}
        for tp in tps:
            start = max(begin[tp], end[tp] - n)
            consumer.seek(tp, start)
            if end[tp] > start:
                remaining[tp] = end[tp]
        messages: list[TailedMessage] = []
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(*remaining.keys(), timeout_ms=1000)
            if not batch:
                # Transaction markers occupy offsets but yield no message; stop at the position.
                for tp in list(remaining):
                    if await consumer.position(tp) >= remaining[tp]:
                        del remaining[tp]
                continue
            for tp, records in batch.items():
                for r in records:
                    messages.append(TailedMessage(tp.partition, r.offset, r.timestamp, r.key, r.value))
                if await consumer.position(tp) >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
        messages.sort(key=lambda m: (m.timestamp_ms, m.partition, m.offset))
        return messages[-n:]
    finally:
        await consumer.stop()
