"""The checkpoint: how every loop commits a batch, whatever its kind.

The same three steps, in this order (as quixstreams' checkpoint does):
1. flush the sinks: each sink stores the batch's rows (or refuses: `SinkBackpressure`);
2. produce the state changes: the store's changelog records, and the input positions;
3. commit the input offsets.

Under exactly-once (the Kafka-to-Kafka stages) all of it, and every output sent through
`send`, is one Kafka transaction: visible to read_committed consumers together, or not at all.
Under at-least-once (the ClickHouse sinks, whose writes are idempotent per source record) the
outputs are delivered and the sinks flushed before the offsets are committed, so a crash at any
point repeats work and never skips it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..telemetry import Telemetry
from .sink import Sink, SinkRow
from .state_store import ChangelogStore


class Checkpoint:
    """One batch's outputs, sink rows and state changes, committed together."""

    def __init__(self, producer: Any, consumer: Any, group_id: str, exactly_once: bool,
                 store: ChangelogStore | None, telemetry: Telemetry | None = None) -> None:
        self.producer, self.consumer, self.group_id = producer, consumer, group_id
        self.exactly_once, self.store = exactly_once, store
        self.telemetry = telemetry
        self._deliveries: list[Awaitable[Any]] = []
        self._rows: dict[Sink, list[SinkRow]] = {}
        self._after: list[Callable[[], None]] = []
        self._open = False

    async def begin(self) -> None:
        if self.exactly_once:
            await self.producer.begin_transaction()
        self._open = True

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None,
                   headers: Sequence[tuple[str, bytes]] | None = None) -> None:
        """Publish with this checkpoint (in its transaction under exactly-once)."""
        self._deliveries.append(await self.producer.send(topic, value, key=key, partition=partition,
                                                         headers=list(headers) if headers else None))

    def write(self, sink: Sink, rows: Sequence[SinkRow]) -> None:
        """Rows for `sink`, stored at commit."""
        if rows:
            self._rows.setdefault(sink, []).extend(rows)

    def after_commit(self, callback: Callable[[], None] | None) -> None:
        """Run `callback` once the checkpoint has committed (e.g. a webhook)."""
        if callback is not None:
            self._after.append(callback)

    def count_after_commit(self, instrument: str, amount: int, attributes: dict[str, Any]) -> None:
        """Add to a telemetry counter once the checkpoint has committed (an aborted batch is
        processed again and must not count twice)."""
        telemetry = self.telemetry
        if telemetry is not None and telemetry.metering:
            self._after.append(lambda: telemetry.count(instrument, amount, attributes))

    async def commit(self, offsets: dict[Any, int], positions: dict[int, dict[str, int]]) -> None:
        """Flush the sinks, produce the state changes and `positions` (partition -> input topic
        -> next offset), commit `offsets`. Raises on any failure; the caller then `abort`s."""
        for sink, rows in self._rows.items():
            await sink.write(rows)
        if self.store is not None:
            for partition, partition_positions in positions.items():
                self.store.stage_positions(partition, partition_positions)
            self._deliveries += await self.store.send_staged(self.producer.send)
        if self.exactly_once:
            if offsets:
                await self.producer.send_offsets_to_transaction(offsets, self.group_id)
            await asyncio.gather(*self._deliveries)
            await self.producer.commit_transaction()
        else:
            await asyncio.gather(*self._deliveries)
            if offsets:
                await self.consumer.commit(offsets)
        self._open = False
        if self.store is not None:
            self.store.commit()
        for callback in self._after:
            callback()

    async def abort(self) -> None:
        """Forget everything staged; abort the transaction (raises if the producer cannot)."""
        if self.store is not None:
            self.store.rollback()
        if self._open and self.exactly_once:
            self._open = False
            await asyncio.wait_for(self.producer.abort_transaction(), 15)
        self._open = False
