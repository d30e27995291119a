"""Keyed state for a transactional loop, backed by a compacted changelog topic.

Why not a Faust table: Faust 0.15.3 committed input offsets ahead of processing around
rebalances (see `txloop`), so its table and the input could disagree after a crash. Here
the changelog records are written in the *same Kafka transaction* as the loop's outputs and its
input offsets (`streams/txloop.py`): after any crash, state, outputs and offsets agree.

State is split by input partition (the changelog has the inputs' partition count and each entry
is written to its input's partition), so a worker restores only what its assignment needs. Within
a transaction writes are staged; `commit()` applies them once Kafka has committed, `rollback()`
drops them when the transaction aborts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import pydantic_core

log = logging.getLogger(__name__)

_DELETED = object()


class ChangelogStore:
    """Per-partition dicts of JSON-able values; each partition's dict is in last-write order."""

    def __init__(self, bootstrap_servers: str, topic: str,
                 decode_value: Callable[[Any], Any] = lambda value: value) -> None:
        self.bootstrap_servers, self.topic = bootstrap_servers, topic
        self.decode_value = decode_value  # JSON-decoded changelog value -> in-memory value
        self.partitions: dict[int, dict[str, Any]] = {}
        self._staged: dict[tuple[int, str], Any] = {}

    # --- reads and staged writes (inside a transaction) ---
    def get(self, partition: int, key: str) -> Any | None:
        """The value as this transaction sees it."""
        staged = self._staged.get((partition, key))
        if staged is not None:
            return None if staged is _DELETED else staged
        return self.partitions.get(partition, {}).get(key)

    def put(self, partition: int, key: str, value: Any) -> None:
        self._staged[(partition, key)] = value

    def delete(self, partition: int, key: str) -> None:
        self._staged[(partition, key)] = _DELETED

    def committed_items(self, partition: int) -> Iterator[tuple[str, Any]]:
        """Committed entries of one partition, oldest write first. Staging writes while
        iterating is safe; committing is not."""
        return iter(self.partitions.get(partition, {}).items())

    def owned(self) -> list[int]:
        """Partitions whose state this worker holds."""
        return sorted(self.partitions)

    async def send_staged(self, send: Callable[..., Any]) -> list[Any]:
        """Write the staged changes to the changelog through `send(topic, value, key=, partition=)`
        (the transactional producer); returns the delivery futures."""
        futures = []
        for (partition, key), value in self._staged.items():
            payload = None if value is _DELETED else pydantic_core.to_json(value)
            futures.append(await send(self.topic, payload, key=key.encode(), partition=partition))
        return futures

    def commit(self) -> None:
        """The transaction committed: apply the staged writes (a rewrite moves to the end)."""
        for (partition, key), value in self._staged.items():
            entries = self.partitions.setdefault(partition, {})
            entries.pop(key, None)
            if value is not _DELETED:
                entries[key] = value
        self._staged.clear()

    def rollback(self) -> None:
        """The transaction aborted: forget the staged writes."""
        self._staged.clear()

    # --- assignment changes ---
    def drop(self, partitions: Iterable[int]) -> None:
        """Partitions moved to another worker: forget their state."""
        for partition in partitions:
            self.partitions.pop(partition, None)

    async def restore(self, partitions: Iterable[int]) -> int:
        """Rebuild the state of `partitions` from the changelog (committed records only);
        returns the number of records read."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        tps = [TopicPartition(self.topic, p) for p in partitions]
        if not tps:
            return 0
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False,
                                    isolation_level="read_committed", auto_offset_reset="earliest",
                                    max_poll_records=10_000)
        await consumer.start()
        read = 0
        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            restored: dict[int, dict[str, Any]] = {tp.partition: {} for tp in tps}
            remaining = {tp for tp in tps if end[tp] > 0}
            while remaining:
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
                if not remaining:
                    break
                batches = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, records in batches.items():
                    entries = restored[tp.partition]
                    for record in records:
                        read += 1
                        key = record.key.decode()
                        entries.pop(key, None)
                        if record.value is not None:
                            entries[key] = self.decode_value(orjson.loads(record.value))
            self.partitions.update(restored)
        finally:
            await consumer.stop()
        log.info("restored %s partitions %s from %d changelog records", self.topic,
                 [tp.partition for tp in tps], read)
        return read
