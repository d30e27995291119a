"""The stage loop: one consumer-group member and one producer; fetch a micro-batch, hand it to
the stage's handler, commit it with the checkpoint protocol (`checkpoint`). Every stage runs on
it: the Kafka-to-Kafka stages exactly-once, the ClickHouse sinks at-least-once with idempotent
writes.

Positions: the loop, not the consumer, decides where each input partition continues. The next
offset to process is advanced only when a checkpoint commits (and, for exactly-once loops,
written to the changelog in the same transaction, `state_store`). After anything that may have
moved the consumer's own positions (a rebalance during a fetch, an aborted checkpoint, a paused
partition) the loop seeks back to them, and records before them are never processed twice. (A
batch fetched across a rebalance used to be dropped without rewinding: the consumer had already
moved past it, so those records were never processed although later commits covered them.)

Rebalances: the revoke callback takes the loop's lock, so no checkpoint spans a change of
ownership. On assignment an exactly-once loop restores its state and positions from the
changelog once no transaction is pending on it (a killed predecessor's open transaction is
aborted by the broker after the transaction timeout, or at once when the predecessor restarts
with the same worker id); an at-least-once loop starts from the group's committed offsets and
tells its sinks which records a previous owner may already have written.

Failures, each handled where it happens:
- the broker away: nothing fetched, nothing lost; retried every second;
- a record the client cannot decode (a corrupt batch): its offset goes to the DLQ as
  `undecodable_record` and the partition moves on;
- processing raises (a bug, a poison record): the checkpoint aborts, the batch is read again one
  record per checkpoint, and the record that fails on its own goes to the DLQ as
  `processing_error`;
- a sink refuses (`SinkBackpressure`): the batch's partitions are rewound and paused for the
  sink's `retry_after`, and the consumer keeps polling;
- a partition that does not move while records wait: a stall report (`stall`), once per offset.

`stop()` ends the loop after the checkpoint in flight; the consumer then leaves its group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiokafka.abc import ConsumerRebalanceListener

from ...ops import kafka_clients
from ...ops.errors import RaiwatchError
from ...ops.settings import RaiwatchSettings
from ...schemas.dead_letters import DeadLetterReason
from .checkpoint import Checkpoint
from .dead_letters import dead_letter_for, send_dead_letter, undecodable_record
from .fetch import fetch_window
from .sink import Sink, SinkBackpressure
from ..telemetry import Telemetry
from .stall import StallReport, StallWatch
from .state_store import ChangelogStore

log = logging.getLogger(__name__)

STALL_CHECK_INTERVAL_S = 1.0


class Guarantee(StrEnum):
    """What a loop promises about its outputs."""

    EXACTLY_ONCE = "exactly_once"  # outputs, state and offsets in one Kafka transaction
    AT_LEAST_ONCE = "at_least_once"  # sinks written, then offsets committed; sinks must be idempotent


@dataclass(frozen=True)
class LoopSpec:
    """What a loop reads, how it batches and what it promises."""

    name: str  # for logs, the transactional id and the health report
    topics: tuple[str, ...]
    group_id: str
    max_records: int
    window_s: float
    guarantee: Guarantee = Guarantee.EXACTLY_ONCE
    tick_interval_s: float | None = None  # run `tick` this often (in a checkpoint of its own)
    dlq_topic: str | None = None  # where records that cannot be processed go
    transaction_timeout_s: float = 30.0  # exactly-once: the broker aborts a transaction open longer
    # How long a fetch waits for data (None: `stages.fetch_max_wait_ms`). A loop whose input is
    # rare and not latency-critical (the feeds) waits longer: an idle loop polling every 20 ms
    # costs its worker's event loop CPU that the join needs.
    fetch_max_wait_ms: int | None = None


class Handler(ABC):
    """What a stage does with its batches: `process` is required, the rest optional.
    Exactly-once loops need a `store` (it also holds their input positions); sink loops list
    their `sinks`."""

    store: ChangelogStore | None = None
    sinks: tuple[Sink, ...] = ()

    @abstractmethod
    async def process(self, records: list[Any], checkpoint: Checkpoint) -> None:
        """Handle a fetched batch (records of any assigned partitions, in offset order per
        partition): send outputs and write sink rows through `checkpoint`. Bad input goes to
        the DLQ; an exception aborts the batch (and the loop then isolates the failing record)."""

    async def tick(self, checkpoint: Checkpoint) -> None:
        """Periodic work in a checkpoint of its own (timeouts, purges)."""

    async def on_assigned(self, positions: dict[Any, int]) -> None:
        """The loop now owns the partitions in `positions` (topic-partition -> next offset to
        process; a live view, advanced as checkpoints commit); their state was restored."""

    def on_rollback(self) -> None:
        """A checkpoint aborted: derived in-memory state must be rebuilt from the store."""

    async def background(self) -> None:
        """Work beside the loop, outside its checkpoints (e.g. broker queries that must not
        hold up a batch); cancelled when the loop stops."""

    async def close(self) -> None:
        """The loop stops: release the handler's own clients."""


@dataclass
class LoopStatus:
    """What the health endpoint reports of one loop."""

    name: str
    state: str  # starting | running | stopped | failed
    assigned: list[str] = field(default_factory=list)
    joined: bool = False  # has received an assignment (possibly empty) and restored it
    lag: int = 0  # records waiting on the assigned partitions (log end - position)
    paused: list[str] = field(default_factory=list)
    last_iteration_age_s: float = 0.0
    stalls: int = 0


StallCallback = Callable[[StallReport], Awaitable[None]]


class StageLoop:
    """Runs one stage's handler until stopped."""

    def __init__(self, settings: RaiwatchSettings, spec: LoopSpec, handler: Handler,
                 on_stall: StallCallback | None = None, telemetry: Telemetry | None = None) -> None:
        if spec.guarantee is Guarantee.EXACTLY_ONCE and handler.store is None:
            raise RaiwatchError(f"{spec.name}: an exactly-once loop needs a changelog store")
        self.settings, self.spec, self.handler, self.on_stall = settings, spec, handler, on_stall
        self.telemetry = telemetry or Telemetry()
        self.telemetry.watch_lag(self._lags)
        self.exactly_once = spec.guarantee is Guarantee.EXACTLY_ONCE
        if handler.store is not None:
            # A killed predecessor's open transaction holds the changelog until the broker
            # aborts it (after the transaction timeout; brokers check every 10 s by default).
            handler.store.stable_timeout_s = spec.transaction_timeout_s + 15.0
        self.transactional_id = f"{settings.stages.app_id}-{spec.name}-{settings.stages.worker_id}"
        self.lock = asyncio.Lock()
        self.generation = 0  # bumped by every assignment change
        self.positions: dict[Any, int] = {}  # assigned topic-partition -> next offset to process
        self.consumer: Any = None
        self.producer: Any = None
        self.stalls = StallWatch(spec.name, settings.stages.stall_after_s)
        self.state = "starting"
        self.joined = False
        self.last_iteration = time.monotonic()
        self._paused_until: dict[Any, float] = {}
        self._next_tick = 0.0
        self._next_stall_check = 0.0
        self._last_start = 0.0
        self._isolate_left = 0  # > 0: a batch failed; process it one record per checkpoint
        self._stopping = asyncio.Event()

    # --- lifecycle ---
    async def run(self) -> None:
        """Run until `stop()` (or cancelled)."""
        from aiokafka.errors import KafkaError

        # The producer first: initialising the transactional id aborts whatever a killed
        # predecessor left open, before the state restore reads the changelog.
        await self._start_producer()
        await self._start_consumer()
        background = asyncio.create_task(self.handler.background())
        self.state = "running"
        try:
            while not self._stopping.is_set():
                self.last_iteration = time.monotonic()
                self._resume_due()
                await self._watch_stalls()
                # At most one checkpoint per window: each costs the broker a round of commit
                # markers (or ClickHouse a part), and back-to-back tiny ones slow everything.
                generation = self.generation
                try:
                    batches = await fetch_window(
                        self.consumer, self._last_start + self.spec.window_s, self.spec.window_s,
                        1 if self._isolate_left else self.spec.max_records)
                except KafkaError as exc:
                    if not _is_record_error(exc):
                        log.warning("%s: fetch failed (%s); retrying", self.spec.name, exc)
                        await asyncio.sleep(1.0)
                        continue
                    await self._skip_undecodable(exc)
                    continue
                except (asyncio.CancelledError, GeneratorExit):
                    raise
                except Exception as exc:  # noqa: BLE001 - a codec failing on a record: find it, skip it
                    await self._skip_undecodable(exc)
                    continue
                tick_due = (self.spec.tick_interval_s is not None and not self._isolate_left
                            and time.monotonic() >= self._next_tick)
                if not batches and not tick_due:
                    continue
                async with self.lock:
                    if generation != self.generation:
                        # Fetched across a rebalance: the consumer moved past these records
                        # (from wherever it restarted), so put it back where the loop is.
                        self._rewind()
                        continue
                    batches = self._unprocessed(batches)
                    if not batches and not tick_due:
                        continue
                    self._last_start = time.monotonic()
                    await self._checkpoint(batches, tick_due)
        except BaseException:
            self.state = "failed"
            raise
        finally:
            background.cancel()
            await self._close()
        self.state = "stopped"

    def stop(self) -> None:
        """End after the checkpoint in flight (the current fetch window closes first)."""
        self._stopping.set()

    def status(self) -> LoopStatus:
        """For the health endpoint."""
        lag = 0
        assigned = sorted(self.positions, key=lambda tp: (tp.topic, tp.partition))
        if self.consumer is not None:
            for tp in assigned:
                end = self._log_end(tp)
                if end is not None:
                    lag += max(0, end - self.positions[tp])
        return LoopStatus(
            name=self.spec.name, state=self.state, assigned=[f"{tp.topic}[{tp.partition}]" for tp in assigned],
            joined=self.joined, lag=lag, paused=[f"{tp.topic}[{tp.partition}]" for tp in self._paused_until],
            last_iteration_age_s=time.monotonic() - self.last_iteration, stalls=self.stalls.stalls)

    async def _start_producer(self) -> None:
        stages = self.settings.stages
        self.producer = kafka_clients.producer(
            self.settings,
            # Exactly-once loops write in transactions; sink loops only dead-letter, idempotently.
            transactional_id=self.transactional_id if self.exactly_once else None,
            enable_idempotence=True, acks="all", linger_ms=stages.producer_linger_ms,
            max_batch_size=stages.producer_batch_bytes, max_request_size=_max_request_bytes(self.settings),
            transaction_timeout_ms=int(self.spec.transaction_timeout_s * 1000),
            retry_backoff_ms=stages.producer_retry_backoff_ms,
        )
        await self.producer.start()

    async def _start_consumer(self) -> None:
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor

        self.consumer = kafka_clients.consumer(
            self.settings, group_id=self.spec.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
            max_poll_records=self.spec.max_records,
            # Range assignment gives one member the same partition numbers of every input topic:
            # the join needs a request's prompt and output (same key, same partition) together.
            partition_assignment_strategy=(RangePartitionAssignor,),
            fetch_max_bytes=self.settings.stages.fetch_max_bytes,
            max_partition_fetch_bytes=self.settings.stages.max_partition_fetch_bytes,
            fetch_max_wait_ms=self.spec.fetch_max_wait_ms or self.settings.stages.fetch_max_wait_ms,
        )
        self.consumer.subscribe(list(self.spec.topics), listener=_Rebalance(self))
        await self.consumer.start()

    async def _close(self) -> None:
        self.telemetry.unwatch_lag(self._lags)
        try:
            await self.handler.close()
        except Exception:  # noqa: BLE001 - shutting down anyway
            log.exception("%s: closing the handler failed", self.spec.name)
        for sink in self.handler.sinks:
            try:
                await sink.close()
            except Exception:  # noqa: BLE001
                log.exception("%s: closing sink %s failed", self.spec.name, sink.name)
        for client in (self.consumer, self.producer):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), 10)
                except Exception:  # noqa: BLE001 - shutting down anyway
                    pass

    # --- one checkpoint ---
    def _new_checkpoint(self) -> Checkpoint:
        return Checkpoint(self.producer, self.consumer, self.spec.group_id, self.exactly_once, self.handler.store,
                          self.telemetry)

    def _lags(self) -> list[tuple[int, dict[str, str]]]:
        """(records waiting, attributes) per assigned partition, for the consumer-lag gauge."""
        lags = []
        for tp, position in list(self.positions.items()):
            end = self._log_end(tp)
            if end is not None:
                lags.append((max(0, end - position), {"raiwatch.stage": self.spec.name, "messaging.destination.name":
                                                      tp.topic, "messaging.destination.partition.id": str(tp.partition)}))
        return lags

    async def _checkpoint(self, batches: dict[Any, list[Any]], tick_due: bool) -> None:
        from aiokafka.errors import ProducerFenced

        records = [record for partition_records in batches.values() for record in partition_records]
        offsets = {tp: partition_records[-1].offset + 1 for tp, partition_records in batches.items()}
        checkpoint = self._new_checkpoint()
        started = time.monotonic()
        if self.telemetry.metering:
            for tp, partition_records in batches.items():
                checkpoint.count_after_commit("messages", len(partition_records), {
                    "raiwatch.stage": self.spec.name, "messaging.destination.name": tp.topic})
        try:
            await checkpoint.begin()
            if records:
                await self.handler.process(records, checkpoint)
            if tick_due:
                await self.handler.tick(checkpoint)
                self._next_tick = time.monotonic() + (self.spec.tick_interval_s or 0)
            await checkpoint.commit(offsets, self._positions_after(offsets))
        except ProducerFenced as exc:
            raise RaiwatchError(
                f"{self.spec.name}: transactional id {self.transactional_id!r} was fenced: another worker with "
                "this worker id started (give each worker its own stages.worker_id), or a transaction outlived "
                "the transaction timeout") from exc
        except SinkBackpressure as exc:
            log.warning("%s: %s; pausing %d partitions for %.1fs", self.spec.name, exc, len(batches), exc.retry_after)
            await self._abort(checkpoint)
            self._pause(list(batches), exc.retry_after)
            return
        except Exception as exc:  # noqa: BLE001 - abort, rewind, retry: nothing is lost
            log.warning("%s: checkpoint failed (%s: %s); aborting and reading the batch again", self.spec.name,
                        type(exc).__name__, exc, exc_info=not _is_kafka_error(exc))
            await self._abort(checkpoint)
            if records and not _is_kafka_error(exc):
                await self._isolate(records, exc)
            return
        self.positions.update(offsets)
        self._committed(offsets)
        self._isolate_left = max(0, self._isolate_left - len(records))
        if records:
            self.telemetry.record("stage_duration", time.monotonic() - started, {"raiwatch.stage": self.spec.name})

    def _committed(self, offsets: dict[Any, int]) -> None:
        for sink in self.handler.sinks:
            sink.committed({tp.partition: offset for tp, offset in offsets.items() if tp.topic == sink.topic})

    def _positions_after(self, offsets: dict[Any, int]) -> dict[int, dict[str, int]]:
        """The input positions to checkpoint: for each partition number the batch touched, the
        next offset of every assigned input topic with that number."""
        numbers = {tp.partition for tp in offsets}
        positions: dict[int, dict[str, int]] = {}
        for tp, position in {**self.positions, **offsets}.items():
            if tp.partition in numbers:
                positions.setdefault(tp.partition, {})[tp.topic] = position
        return positions

    async def _abort(self, checkpoint: Checkpoint) -> None:
        """After a failed checkpoint: abort it (or replace a producer that cannot), let the
        handler rebuild what it derived, and rewind every assigned partition."""
        try:
            await checkpoint.abort()
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
        self.handler.on_rollback()
        self._rewind()

    async def _dead_letter_alone(self, tp: Any, offset: int, letter: Any) -> bool:
        """Send `letter` to the DLQ and move `tp` past `offset` in a checkpoint of their own."""
        checkpoint = self._new_checkpoint()
        offsets = {tp: offset + 1}
        try:
            await checkpoint.begin()
            await send_dead_letter(checkpoint, self.spec.dlq_topic, letter)
            await checkpoint.commit(offsets, self._positions_after(offsets))
        except Exception as exc:  # noqa: BLE001 - read again and retried
            log.warning("%s: dead-lettering %s[%d]@%d failed (%s)", self.spec.name, tp.topic, tp.partition, offset, exc)
            await self._abort(checkpoint)
            return False
        self.positions.update(offsets)
        self._committed(offsets)
        self._rewind()
        return True

    async def _isolate(self, records: list[Any], exc: Exception) -> None:
        """Processing raised (a bug or a poison record, not Kafka): read the batch again one
        record per checkpoint, and dead-letter the record that fails on its own, so that it
        never blocks its partition."""
        if len(records) > 1 or not self._isolate_left:
            self._isolate_left = len(records)
            log.warning("%s: processing %d records one at a time to find the failing one", self.spec.name, len(records))
            return
        if self.spec.dlq_topic is None:
            return  # nowhere to put it: retried until the code is fixed (the stall alert says so)
        from aiokafka import TopicPartition

        record = records[0]
        letter = dead_letter_for(record, DeadLetterReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}",
                                 self.spec.name)
        if await self._dead_letter_alone(TopicPartition(record.topic, record.partition), record.offset, letter):
            self._isolate_left -= 1
            log.error("%s: %s[%d]@%d sent to the DLQ: processing it raised %s: %s", self.spec.name, record.topic,
                      record.partition, record.offset, type(exc).__name__, exc)

    async def _skip_undecodable(self, exc: BaseException) -> None:
        """The client failed to decode fetched records (a corrupt batch, a codec error): find
        the partitions it happens on, one at a time, and dead-letter the offset each is held at."""
        log.warning("%s: fetch failed to decode records (%s: %s); looking for the partition", self.spec.name,
                    type(exc).__name__, exc)
        async with self.lock:
            for tp in sorted(self.positions, key=lambda t: (t.topic, t.partition)):
                if tp in self._paused_until:
                    continue
                try:
                    await self.consumer.getmany(tp, timeout_ms=500, max_records=1)
                except (asyncio.CancelledError, GeneratorExit):
                    raise
                except Exception as probe_exc:  # noqa: BLE001 - this partition's next record cannot be read
                    if _is_kafka_error(probe_exc) and not _is_record_error(probe_exc):
                        continue
                    offset = self.positions[tp]
                    detail = f"the client cannot decode the record batch: {type(probe_exc).__name__}: {probe_exc}"
                    if self.spec.dlq_topic is not None and await self._dead_letter_alone(
                            tp, offset, undecodable_record(tp.topic, tp.partition, offset, detail, self.spec.name)):
                        log.error("%s: %s[%d]@%d sent to the DLQ: %s", self.spec.name, tp.topic, tp.partition, offset,
                                  detail)
                finally:
                    self._rewind()

    # --- positions ---
    def _rewind(self) -> None:
        """Seek every assigned input partition to the loop's position: the next offset that no
        committed checkpoint has consumed."""
        for tp in self.consumer.assignment():
            position = self.positions.get(tp)
            if position is not None:
                self.consumer.seek(tp, position)

    def _unprocessed(self, batches: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
        """The fetched records at or after the loop's positions, of partitions still assigned
        and not paused (a fetch that was under way while the loop rewound may repeat records)."""
        kept = {}
        for tp, records in batches.items():
            position = self.positions.get(tp)
            if position is None or tp in self._paused_until:
                continue
            fresh = [r for r in records if r.offset >= position]
            if fresh:
                kept[tp] = fresh
        return kept

    def _pause(self, tps: list[Any], retry_after: float) -> None:
        """A sink refused: rewind the partitions and stop fetching them for a while."""
        until = time.monotonic() + retry_after
        assigned = self.consumer.assignment()
        for tp in tps:
            if tp in assigned:
                self._paused_until[tp] = until
        self.consumer.pause(*[tp for tp in tps if tp in assigned])
        self._rewind()

    def _resume_due(self) -> None:
        now = time.monotonic()
        due = [tp for tp, until in self._paused_until.items() if until <= now]
        if due:
            for tp in due:
                del self._paused_until[tp]
            assigned = self.consumer.assignment()
            self.consumer.resume(*[tp for tp in due if tp in assigned])

    def _log_end(self, tp: Any) -> int | None:
        try:
            return self.consumer.last_stable_offset(tp)
        except Exception:  # noqa: BLE001 - not assigned any more
            return None

    async def _watch_stalls(self) -> None:
        now = time.monotonic()
        if now < self._next_stall_check:
            return
        self._next_stall_check = now + STALL_CHECK_INTERVAL_S
        for tp, position in list(self.positions.items()):
            end = self._log_end(tp)
            if end is None:
                continue
            report = self.stalls.observe(tp, position, end - position, now)
            if report is None:
                continue
            log.error("%s: %s[%d] has not moved for %.0fs with %d records waiting; the record holding it is at "
                      "offset %d", self.spec.name, tp.topic, tp.partition, report.stalled_s, report.lag, position)
            if self.on_stall is not None:
                try:
                    await self.on_stall(report)
                except Exception:  # noqa: BLE001 - the alert is best effort; the log line stands
                    log.exception("%s: publishing the stall alert failed", self.spec.name)

    async def _assign(self, assigned: Any) -> None:
        """Restore the state of newly assigned partitions and decide where each continues."""
        store = self.handler.store
        restored: dict[int, dict[str, int]] = {}
        if store is not None:
            store.drop(set(store.owned()))  # whatever we held may have moved meanwhile
            restored = await store.restore({tp.partition for tp in assigned})
        self.positions.clear()  # in place: handlers hold this dict as a live view
        self._paused_until.clear()
        for tp in assigned:
            position = restored.get(tp.partition, {}).get(tp.topic)
            if position is None:
                # No checkpoint in the changelog (a sink loop, or the first run): the group's
                # committed offset, else the beginning.
                position = await self.consumer.committed(tp)
                if position is None:
                    await self.consumer.seek_to_beginning(tp)
                    position = await self.consumer.position(tp)
            self.positions[tp] = position
            self.consumer.seek(tp, position)
        if self.handler.sinks and assigned:
            # A previous owner may have written records up to the log end and died before
            # committing them: the sinks look those up before writing them again.
            ends = await self.consumer.end_offsets(list(assigned))
            for sink in self.handler.sinks:
                for tp in assigned:
                    if tp.topic == sink.topic:
                        sink.may_hold(tp.partition, self.positions[tp], ends[tp])
        await self.handler.on_assigned(self.positions)
        self.joined = True


def _max_request_bytes(settings: RaiwatchSettings) -> int:
    """Room for the largest record a loop produces: a dead letter carrying an input at the
    broker's limit, plus its headers."""
    from .dead_letters import MAX_ORIGINAL_BYTES

    return max(settings.kafka.max_message_bytes, MAX_ORIGINAL_BYTES) + 64 * 1024


def _is_kafka_error(exc: BaseException) -> bool:
    from aiokafka.errors import KafkaError

    return isinstance(exc, (KafkaError, asyncio.TimeoutError))


def _is_record_error(exc: BaseException) -> bool:
    """An error about the fetched bytes themselves (not the broker): retrying never helps."""
    from aiokafka.errors import CorruptRecordException, UnsupportedCodecError

    return isinstance(exc, (UnsupportedCodecError, CorruptRecordException)) or not _is_kafka_error(exc)


class _Rebalance(ConsumerRebalanceListener):
    """Keeps the loop's state in step with its assignment (aiokafka awaits these callbacks)."""

    def __init__(self, loop: StageLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.loop.lock:  # waits for the checkpoint in flight, if any
            self.loop.generation += 1
            if self.loop.handler.store is not None:
                self.loop.handler.store.drop({tp.partition for tp in revoked})
            for tp in revoked:
                self.loop.positions.pop(tp, None)
                self.loop._paused_until.pop(tp, None)
            self.loop.stalls.forget(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        async with self.loop.lock:
            self.loop.generation += 1
            await self.loop._assign(assigned)
            log.info("%s: assigned %s", self.loop.spec.name,
                     sorted(f"{tp.topic}[{tp.partition}]@{self.loop.positions[tp]}" for tp in assigned))
