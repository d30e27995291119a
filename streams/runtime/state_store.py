"""Keyed state for a transactional loop, backed by a compacted changelog topic.

The changelog records are written in the *same Kafka transaction* as the loop's outputs and its
input offsets (`runtime/checkpoint.py`): after any crash, state, outputs and offsets agree.

State is split by input partition (the changelog has the inputs' partition count and each entry
is written to its input's partition), so a worker restores only what its assignment needs. Within
a transaction writes are staged; `commit()` applies them once Kafka has committed, `rollback()`
drops them when the transaction aborts.

**Input positions live here too.** Every transaction that consumed input partition p also writes
the next offset of each of p's input topics to changelog partition p (key `POSITIONS_KEY`,
`stage_positions`). On assignment the loop resumes from those positions, not from the consumer group's committed
offsets: an offset fetch (aiokafka speaks OffsetFetch v3, without KIP-447's stable-offset
requirement) may return offsets that a transaction still pending will change, whereas the state
and the positions read from one changelog are, by construction, from the same committed
transactions. The group offsets are still committed (lag monitoring, and the starting point of
a partition that has no checkpoint yet).

**Restores wait for a stable changelog.** A read_committed consumer stops at the last stable
offset: the first offset of a transaction still open. A killed worker's open transaction (until
it times out or its transactional id is initialised again) or a committed one whose markers are
still being written would hide every later commit. So `restore` reads until the partition's
last stable offset equals its high watermark (no transaction pending at all), for at most
`stable_timeout_s`; only then do the state and the positions describe every committed
transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import pydantic_core

log = logging.getLogger(__name__)

_DELETED = object()
POSITIONS_KEY = "\x00positions"  # changelog key of a partition's input positions (not a state entry)
RESTORE_POLL_MS = 100


class ChangelogStore:
    """Per-partition dicts of JSON-able values; each partition's dict is in last-write order."""

    def __init__(self, make_consumer: Callable[..., Any], topic: str,
                 decode_value: Callable[[Any], Any] = lambda value: value,
                 stable_timeout_s: float = 120.0) -> None:
        self.make_consumer, self.topic = make_consumer, topic  # make_consumer(**kwargs) -> AIOKafkaConsumer
        self.decode_value = decode_value  # JSON-decoded changelog value -> in-memory value
        self.stable_timeout_s = stable_timeout_s
        self.partitions: dict[int, dict[str, Any]] = {}
        self._staged: dict[tuple[int, str], Any] = {}
        self._staged_positions: dict[int, dict[str, int]] = {}

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

    def stage_positions(self, partition: int, positions: dict[str, int]) -> None:
        """Write the input positions of `partition` (input topic -> next offset, every input
        topic of the partition: on restore the latest record wins) in this transaction."""
        self._staged_positions[partition] = dict(positions)

    async def send_staged(self, send: Callable[..., Any]) -> list[Any]:
        """Write the staged changes to the changelog through `send(topic, value, key=, partition=)`
        (the transactional producer); returns the delivery futures."""
        futures = []
        for (partition, key), value in self._staged.items():
            payload = None if value is _DELETED else pydantic_core.to_json(value)
            futures.append(await send(self.topic, payload, key=key.encode(), partition=partition))
        for partition, positions in self._staged_positions.items():
            futures.append(await send(self.topic, orjson.dumps(positions), key=POSITIONS_KEY.encode(),
                                      partition=partition))
        return futures

    def commit(self) -> None:
        """The transaction committed: apply the staged writes (a rewrite moves to the end)."""
        for (partition, key), value in self._staged.items():
            entries = self.partitions.setdefault(partition, {})
            entries.pop(key, None)
            if value is not _DELETED:
                entries[key] = value
        self._staged.clear()
        self._staged_positions.clear()

    def rollback(self) -> None:
        """The transaction aborted: forget the staged writes."""
        self._staged.clear()
        self._staged_positions.clear()

    # --- assignment changes ---
    def drop(self, partitions: Iterable[int]) -> None:
        """Partitions moved to another worker: forget their state."""
        for partition in partitions:
            self.partitions.pop(partition, None)

    async def restore(self, partitions: Iterable[int]) -> dict[int, dict[str, int]]:
        """Rebuild the state of `partitions` from the changelog (committed records only, once
        no transaction is pending on them; see the module docstring); returns the input
        positions found (partition -> input topic -> next offset)."""
        from aiokafka import TopicPartition

        tps = [TopicPartition(self.topic, p) for p in partitions]
        if not tps:
            return {}
        consumer = self.make_consumer(enable_auto_commit=False, isolation_level="read_committed",
                                      auto_offset_reset="earliest", max_poll_records=10_000,
                                      fetch_max_wait_ms=RESTORE_POLL_MS)
        await consumer.start()
        read = 0
        started = time.monotonic()
        restored: dict[int, dict[str, Any]] = {tp.partition: {} for tp in tps}
        positions: dict[int, dict[str, int]] = {}
        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            pending = set(tps)
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=RESTORE_POLL_MS)
                for tp, records in batches.items():
                    entries = restored[tp.partition]
                    for record in records:
                        read += 1
                        key = record.key.decode()
                        if key == POSITIONS_KEY:
                            positions[tp.partition] = orjson.loads(record.value)
                            continue
                        entries.pop(key, None)
                        if record.value is not None:
                            entries[key] = self.decode_value(orjson.loads(record.value))
                waited = time.monotonic() - started
                for tp in list(pending):
                    if await _restored(consumer, tp, waited >= self.stable_timeout_s):
                        pending.discard(tp)
            self.partitions.update(restored)
        finally:
            await consumer.stop()
        log.info("restored %s partitions %s from %d changelog records in %.1fs", self.topic,
                 [tp.partition for tp in tps], read, time.monotonic() - started)
        return positions


async def _restored(consumer: Any, tp: Any, give_up_waiting: bool) -> bool:
    """Read up to the last stable offset, and no transaction pending on the partition (or the
    wait is over: then the state is what the committed transactions so far wrote)."""
    stable, high = consumer.last_stable_offset(tp), consumer.highwater(tp)
    if stable is None or high is None or await consumer.position(tp) < stable:
        return False  # no fetch answered yet, or records left to read
    if stable >= high:
        return True
    if give_up_waiting:
        log.warning("%s[%d]: a transaction is still pending at offset %d (high watermark %d); restoring what "
                    "is committed so far", tp.topic, tp.partition, stable, high)
        return True
    return False
