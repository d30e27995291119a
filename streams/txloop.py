"""Exactly-once consume -> process -> produce with Kafka transactions (plain aiokafka).

Each iteration fetches a micro-batch and, in one Kafka transaction, publishes everything the
handler produced (verdicts, dead letters, alerts, judge requests), the changelog of the loop's
state (`state_store`) and the input offsets. Either all of it becomes visible to read_committed
consumers or none of it does, so a kill -9 at any point neither loses nor duplicates anything
downstream: the next worker restores the state and resumes from the committed offsets.

Why not Faust's agents: faust-streaming 0.15.3 acknowledged offsets of messages it never
processed around rebalances (our kill -9 test lost requests even after patching two such
paths), and its exactly_once mode stalled. Faust still runs the worker (services, signals, web server); these
loops are its tasks.

Rebalances: the revoke callback takes the loop's lock, so no transaction spans a change of
ownership; a fetched batch is dropped if the assignment changed while it was being fetched (the
rebalance reset the positions to the committed offsets). On assignment the state of the assigned
partitions is restored from the changelog before anything is processed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.abc import ConsumerRebalanceListener

from ..ops.errors import RaiwatchError
from ..ops.settings import RaiwatchSettings
from .state_store import ChangelogStore

log = logging.getLogger(__name__)

AfterCommit = Callable[[], None] | None

# How long the broker may hold an empty fetch. A read_committed fetch held by the broker is not
# woken when a transaction commits; the default (500 ms) showed in the end-to-end latency.
FETCH_MAX_WAIT_MS = 20


async def fetch_window(consumer: Any, deadline: float, idle_wait_s: float, max_records: int) -> dict[Any, list[Any]]:
    """The records that arrive until `deadline` (monotonic), at most `max_records`; if none
    arrived by then, the first ones to come within `idle_wait_s` (so a quiet stream is answered
    at once, and an empty result still returns, for ticks).

    Why call `getmany` throughout the window instead of sleeping until it closes: aiokafka
    fetches a partition again only once its buffered records were taken, so after a sleep the
    buffer held what the last fetch of the previous window brought; every record waited one to
    two whole windows (83 ms median at a 50 ms window, measured). Draining the buffer as it
    fills keeps a fetch in flight, and a record waits at most one window."""
    batches: dict[Any, list[Any]] = {}
    count = 0
    while count < max_records:
        remaining = deadline - time.monotonic()
        if remaining <= 0 and count:
            break
        window_over = remaining <= 0
        got = await consumer.getmany(timeout_ms=int((idle_wait_s if window_over else remaining) * 1000),
                                     max_records=max_records - count)
        for tp, records in got.items():
            batches.setdefault(tp, []).extend(records)
            count += len(records)
        if window_over:
            break  # the idle wait is over, with or without records
    return batches


class Outbox:
    """The sends of the current transaction."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.futures: list[Awaitable] = []

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None) -> None:
        self.futures.append(await self.producer.send(topic, value, key=key, partition=partition))


@dataclass(frozen=True)
class LoopSpec:
    """What a loop reads and how it batches."""

    name: str  # for logs and the transactional id
    topics: list[str]
    group_id: str
    max_records: int
    window_s: float
    tick_interval_s: float | None = None  # run `tick` this often (inside a transaction)
    dlq_topic: str | None = None  # where a record whose processing keeps failing goes


class LoopHandler(ABC):
    """What a loop does with its batches: `process` is required, the rest optional."""

    store: ChangelogStore | None = None

    @abstractmethod
    async def process(self, records: list[Any], outbox: Outbox) -> AfterCommit:
        """Handle a fetched batch (records of any assigned partitions, in offset order per
        partition). Per-record failures should go to the DLQ; an exception aborts the batch
        (and the loop then isolates the failing record)."""

    async def tick(self, outbox: Outbox) -> AfterCommit:
        """Periodic work in its own transaction (timeouts, purges)."""
        return None

    def on_assigned(self, partitions: set[int]) -> None:
        """The state of `partitions` was restored."""

    def on_rollback(self) -> None:
        """A transaction aborted: derived in-memory state must be rebuilt from the store."""

    async def background(self) -> None:
        """Work that runs beside the loop, outside its transactions (e.g. broker queries that
        must not hold up a batch); cancelled when the loop stops."""

    async def close(self) -> None:
        """The loop stops: release the handler's own clients."""


class TransactionalLoop:
    """One consumer group member plus one transactional producer."""

    def __init__(self, settings: RaiwatchSettings, spec: LoopSpec, handler: LoopHandler) -> None:
        self.settings, self.spec, self.handler = settings, spec, handler
        self.transactional_id = f"{settings.app_id}-{spec.name}-{settings.worker_id}"
        self.lock = asyncio.Lock()
        self.generation = 0  # bumped by every assignment change
        self.consumer: Any = None
        self.producer: Any = None
        self._next_tick = 0.0
        self._last_start = 0.0
        self._isolate_left = 0  # > 0: a batch failed; process it one record per transaction

    # --- lifecycle ---
    async def run(self) -> None:
        """Run until cancelled."""
        from aiokafka.errors import KafkaError

        # The producer first: initialising the transactional id aborts whatever a killed
        # predecessor left open, before our state restore reads the changelog.
        await self._start_producer()
        await self._start_consumer()
        background = asyncio.create_task(self.handler.background())
        try:
            while True:
                # At most one transaction per window: each costs the broker a round of commit
                # markers, and under light load back-to-back tiny transactions made everything
                # slower (the broker and ClickHouse share this machine's cores).
                generation = self.generation
                try:
                    batches = await fetch_window(
                        self.consumer, self._last_start + self.spec.window_s, self.spec.window_s,
                        1 if self._isolate_left else self.spec.max_records)
                except KafkaError as exc:  # broker away: nothing fetched, nothing lost
                    log.warning("%s: fetch failed (%s); retrying", self.spec.name, exc)
                    await asyncio.sleep(1.0)
                    continue
                tick_due = (self.spec.tick_interval_s is not None and not self._isolate_left
                            and time.monotonic() >= self._next_tick)
                if not batches and not tick_due:
                    continue
                async with self.lock:
                    if generation != self.generation:
                        continue  # fetched across a rebalance: positions were reset, read again
                    self._last_start = time.monotonic()
                    await self._transaction(batches, tick_due)
        finally:
            background.cancel()
            await self._stop()

    async def _start_producer(self) -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers, transactional_id=self.transactional_id,
            linger_ms=5, max_batch_size=262144, max_request_size=self.settings.max_message_bytes * 4,
            transaction_timeout_ms=30000,
            retry_backoff_ms=10,
        )
        await self.producer.start()

    async def _start_consumer(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor

        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers, group_id=self.spec.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
            max_poll_records=self.spec.max_records,
            # Range assignment gives one member the same partition numbers of every input topic:
            # the join needs a request's prompt and output (same key, same partition) together.
            partition_assignment_strategy=(RangePartitionAssignor,),
            fetch_max_bytes=16 * 1024 * 1024, max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self.consumer.subscribe(self.spec.topics, listener=_Rebalance(self))
        await self.consumer.start()

    async def _stop(self) -> None:
        await self.handler.close()
        for client in (self.consumer, self.producer):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), 10)
                except Exception:  # noqa: BLE001 - shutting down anyway
                    pass

    # --- one transaction ---
    async def _transaction(self, batches: dict[Any, list[Any]], tick_due: bool) -> None:
        from aiokafka.errors import ProducerFenced

        handler, store = self.handler, self.handler.store
        records = [record for partition_records in batches.values() for record in partition_records]
        after: list[AfterCommit] = []
        try:
            await self.producer.begin_transaction()
            outbox = Outbox(self.producer)
            if records:
                after.append(await handler.process(records, outbox))
            if tick_due:
                after.append(await handler.tick(outbox))
                self._next_tick = time.monotonic() + (self.spec.tick_interval_s or 0)
            if store is not None:
                outbox.futures += await store.send_staged(self.producer.send)
            if batches:
                offsets = {tp: partition_records[-1].offset + 1 for tp, partition_records in batches.items()}
                await self.producer.send_offsets_to_transaction(offsets, self.spec.group_id)
            await asyncio.gather(*outbox.futures)
            await self.producer.commit_transaction()
        except ProducerFenced as exc:
            raise RaiwatchError(
                f"{self.spec.name}: transactional id {self.transactional_id!r} was taken over by another "
                "worker; give each worker its own RAIWATCH_WORKER_ID") from exc
        except Exception as exc:  # noqa: BLE001 - abort, rewind, retry: nothing is lost
            log.warning("%s: transaction failed (%s: %s); aborting and re-reading from the committed offsets",
                        self.spec.name, type(exc).__name__, exc, exc_info=not _is_kafka_error(exc))
            await self._recover()
            if records and not _is_kafka_error(exc):
                await self._isolate(records, exc)
            return
        self._isolate_left = max(0, self._isolate_left - len(records))
        if store is not None:
            store.commit()
        for callback in after:
            if callback is not None:
                callback()

    async def _isolate(self, records: list[Any], exc: Exception) -> None:
        """Processing raised (a bug or a poison record, not Kafka): re-read the batch one
        record per transaction, and dead-letter the record that fails on its own, so that it
        never blocks its partition."""
        if len(records) > 1 or not self._isolate_left:
            self._isolate_left = len(records)
            log.warning("%s: processing %d records one at a time to find the failing one", self.spec.name, len(records))
            return
        record = records[0]
        if self.spec.dlq_topic is None:
            return  # nowhere to put it: retried until the code is fixed
        from aiokafka import TopicPartition

        from ..schemas.dead_letters import DeadLetterReason
        from .dlq import dead_letter_bytes

        tp = TopicPartition(record.topic, record.partition)
        try:
            await self.producer.begin_transaction()
            await (await self.producer.send(self.spec.dlq_topic, dead_letter_bytes(
                record, DeadLetterReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}", self.spec.name)))
            await self.producer.send_offsets_to_transaction({tp: record.offset + 1}, self.spec.group_id)
            await self.producer.commit_transaction()
        except Exception as dlq_exc:  # noqa: BLE001 - read again and retried
            log.warning("%s: dead-lettering %s[%d]@%d failed (%s)", self.spec.name, record.topic, record.partition,
                        record.offset, dlq_exc)
            await self._recover()
            return
        try:
            self.consumer.seek(tp, record.offset + 1)  # `_recover` rewound to the record itself
        except Exception:  # noqa: BLE001 - revoked meanwhile: its next owner starts after it
            pass
        self._isolate_left -= 1
        log.error("%s: %s[%d]@%d sent to the DLQ: processing it raised %s: %s", self.spec.name, record.topic,
                  record.partition, record.offset, type(exc).__name__, exc)

    async def _recover(self) -> None:
        """After a failed transaction: abort it (or replace the producer), drop the staged
        state, and rewind every assigned partition to its committed offset."""
        try:
            await asyncio.wait_for(self.producer.abort_transaction(), 15)
        except Exception as exc:  # noqa: BLE001 - a producer in a fatal state: start a new one
            log.warning("%s: abort failed (%s); restarting the producer", self.spec.name, exc)
            try:
                await asyncio.wait_for(self.producer.stop(), 10)
            except Exception:  # noqa: BLE001
                pass
            while True:
                try:
                    await self._start_producer()
                    break
                except Exception as start_exc:  # noqa: BLE001 - broker still away
                    log.warning("%s: producer restart failed (%s); retrying", self.spec.name, start_exc)
                    await asyncio.sleep(1.0)
        if self.handler.store is not None:
            self.handler.store.rollback()
        self.handler.on_rollback()
        while True:
            try:
                await rewind_to_committed(self.consumer)
                return
            except Exception as exc:  # noqa: BLE001 - coordinator away: try again
                log.warning("%s: cannot read committed offsets (%s); retrying", self.spec.name, exc)
                await asyncio.sleep(1.0)


async def rewind_to_committed(consumer: Any) -> None:
    """Seek every assigned partition to its committed offset (the beginning when none)."""
    for tp in consumer.assignment():
        committed = await consumer.committed(tp)
        if committed is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)


def _is_kafka_error(exc: BaseException) -> bool:
    from aiokafka.errors import KafkaError

    return isinstance(exc, (KafkaError, asyncio.TimeoutError))


class _Rebalance(ConsumerRebalanceListener):
    """Keeps the loop's state in step with its assignment (aiokafka awaits these callbacks)."""

    def __init__(self, loop: TransactionalLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.loop.lock:  # waits for the transaction in flight, if any
            self.loop.generation += 1
            if self.loop.handler.store is not None:
                self.loop.handler.store.drop({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        async with self.loop.lock:
            self.loop.generation += 1
            partitions = {tp.partition for tp in assigned}
            store = self.loop.handler.store
            if store is not None:
                store.drop(set(store.owned()))  # whatever we held may have moved meanwhile
                await store.restore(partitions)
            self.loop.handler.on_assigned(partitions)
            log.info("%s: assigned partitions %s", self.loop.spec.name, sorted(partitions))
