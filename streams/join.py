"""The join stage: prompts and outputs keyed by request_id meet in the join store; each
micro-batch of completed (or timed-out) requests is screened right here (streams/screen.py).

It runs as an exactly-once stage loop (`runtime/loop.py`): the verdicts, dead letters, alerts
and judge requests of a batch, the store's changelog, the input positions and offsets commit in
one Kafka transaction. A crash anywhere replays the batch from committed state, so downstream
read_committed consumers see each verdict exactly once.

A prompt or output must be keyed by its request_id (that is what puts both sides of a request
on the same partition); a record whose key disagrees with its body goes to the DLQ as
`key_mismatch`, since the join could never pair it reliably.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..schemas.dead_letters import DeadLetterReason
from ..schemas.decoder import DecodeFailure, decode
from ..schemas.registry import topic_spec
from .alerting import Alerter, alert_mark_expired, is_alert_mark
from .input_progress import InputProgress
from .join_state import (
    Emit, Reject, Skip, Store, expire, missing_side, on_event, should_expire, should_purge, written_ms,
)
from .messages import JoinedRequest
from .runtime.checkpoint import Checkpoint
from .runtime.context import StageContext
from .runtime.dead_letters import dead_letter_for, send_dead_letter
from .runtime.loop import Handler, LoopSpec, StageLoop
from .screen import Screener
from .telemetry import header

log = logging.getLogger(__name__)


def tick_interval_s(join_timeout_s: float) -> float:
    """How often timeouts are checked: a quarter of the timeout, between 0.1 and 1 s."""
    return min(1.0, max(join_timeout_s / 4, 0.1))


def _now_ms() -> int:
    return int(time.time() * 1000)


class JoinHandler(Handler):
    """Join + screen for the partitions this worker owns."""

    def __init__(self, ctx: StageContext) -> None:
        settings, topics = ctx.settings, ctx.topics
        self.settings, self.topics, self.dlq_topic = settings, topics, topics.dlq
        self.telemetry = ctx.telemetry
        self.specs = {topics.prompts: ("prompt", topic_spec("rai.prompts")),
                      topics.outputs: ("output", topic_spec("rai.outputs"))}
        self.topic_of = {side: name for name, (side, _) in self.specs.items()}
        self.store = ctx.changelog_store(topics.join_changelog)
        self.screener = Screener(ctx, Alerter(settings, self.store, topics.alerts))
        self.positions: dict[Any, int] = {}  # the loop's committed input positions (a live view)
        self.progress = InputProgress(settings, lambda topic, partition: self._position(topic, partition))
        self.timeout_ms = int(settings.join.timeout_s * 1000)
        self.retention_ms = int(settings.join.retention_s * 1000)
        self.tick_interval_s = tick_interval_s(settings.join.timeout_s)
        self.max_ts: dict[tuple[str, int], int] = {}  # (side, partition) -> latest Kafka timestamp read
        self.pending: dict[int, dict[str, None]] = {}  # partition -> request ids waiting for a side

    def _position(self, topic: str, partition: int) -> int | None:
        for tp, position in self.positions.items():
            if tp.topic == topic and tp.partition == partition:
                return position
        return None

    # --- batches ---
    async def process(self, records: list[Any], checkpoint: Checkpoint) -> None:
        now = _now_ms()
        emits: list[tuple[int, JoinedRequest]] = []
        for record in records:
            side, spec = self.specs[record.topic]
            partition, ts_ms = record.partition, record.timestamp or 0
            self.max_ts[(side, partition)] = max(self.max_ts.get((side, partition), 0), ts_ms)
            decoded = decode(record.value, spec, self.settings.kafka.max_message_bytes)
            if isinstance(decoded, DecodeFailure):
                await self._dead_letter(checkpoint, record, decoded.reason, decoded.detail, "decode")
                continue
            key = decoded.request_id
            if record.key != key.encode():
                await self._dead_letter(checkpoint, record, DeadLetterReason.KEY_MISMATCH, _key_mismatch(record.key, key),
                                        "join")
                continue
            traceparent = header(record.headers) if self.telemetry.tracing else None
            try:
                entry, action = on_event(self.store.get(partition, key), side, decoded, partition, ts_ms, now,
                                         traceparent.decode("ascii", "replace") if traceparent else "")
            except Exception as exc:  # noqa: BLE001 - a poison record must not block the partition
                log.exception("join failed on %s[%d]@%d", record.topic, partition, record.offset)
                await self._dead_letter(checkpoint, record, DeadLetterReason.PROCESSING_ERROR,
                                        f"{type(exc).__name__}: {exc}", "join")
                continue
            if isinstance(action, Skip):
                continue
            if isinstance(action, Reject):
                await self._dead_letter(checkpoint, record, action.reason, action.detail, "join")
                continue
            self.store.put(partition, key, entry)
            waiting = self.pending.setdefault(partition, {})
            if isinstance(action, Store):
                waiting[key] = None
            elif isinstance(action, Emit):
                waiting.pop(key, None)
                emits.append((partition, action.joined))
        await self.screener.screen(emits, checkpoint)

    async def _dead_letter(self, checkpoint: Checkpoint, record: Any, reason: DeadLetterReason, detail: str,
                           stage: str) -> None:
        await send_dead_letter(checkpoint, self.dlq_topic, dead_letter_for(record, reason, detail, stage))

    # --- timeouts and purging ---
    async def tick(self, checkpoint: Checkpoint) -> None:
        """Screen the pending requests whose counterpart timed out; forget old entries."""
        owned = self.store.owned()
        now = _now_ms()
        emits: list[tuple[int, JoinedRequest]] = []
        for partition in owned:
            known = [self.max_ts.get((side, partition)) for side in ("prompt", "output")]
            watermark = min(known) if all(v is not None for v in known) else None
            waiting = self.pending.get(partition, {})
            for key in list(waiting):
                entry = self.store.get(partition, key)
                if entry is None or entry["done"]:
                    waiting.pop(key, None)
                    continue
                caught_up = self.progress.caught_up_for(self.topic_of[missing_side(entry)], partition, now / 1000)
                if should_expire(entry, now, self.timeout_ms, watermark, caught_up >= self.settings.join.timeout_s):
                    log.debug("join timeout for %s (watermark %s, caught up %.1fs)", key, watermark, caught_up)
                    entry, emit = expire(entry, now)
                    self.store.put(partition, key, entry)
                    waiting.pop(key, None)
                    emits.append((partition, emit.joined))
            self._purge(partition, now)
        await self.screener.screen(emits, checkpoint)

    def _purge(self, partition: int, now: int) -> None:
        """Delete done entries older than the retention and alert marks past their window.
        Entries are in write order, so the scan stops at the first recent one."""
        for key, value in self.store.committed_items(partition):
            if is_alert_mark(key):
                if alert_mark_expired(value, now):
                    self.store.delete(partition, key)
                    continue
                written = value["written_ms"]
            else:
                if should_purge(value, now, self.retention_ms):
                    self.store.delete(partition, key)
                    continue
                written = written_ms(value)
            if now - written < self.retention_ms:
                break

    async def background(self) -> None:
        """Keep `progress` fresh for the partitions with waiting requests (broker queries take
        tens of ms: not inside a batch's transaction)."""
        while True:
            try:
                waiting_on = {(self.topic_of[missing_side(entry)], p) for p in self.store.owned()
                              for key in list(self.pending.get(p, {}))
                              if (entry := self.store.get(p, key)) is not None and not entry["done"]}
                await self.progress.refresh(waiting_on, time.time())
            except Exception:  # noqa: BLE001 - progress unknown this round: nothing times out
                log.exception("refreshing the input progress failed")
            await asyncio.sleep(self.tick_interval_s)

    async def close(self) -> None:
        await self.progress.close()

    # --- assignment ---
    async def on_assigned(self, positions: dict[Any, int]) -> None:
        self.positions = positions
        self._rebuild_pending()
        # Event time is re-learned from what is read next: the store (and its positions) were
        # just restored, and what this worker read before may be ahead of them.
        self.max_ts.clear()
        self.progress.caught_up_since.clear()

    def on_rollback(self) -> None:
        self._rebuild_pending()

    def _rebuild_pending(self) -> None:
        self.pending = {
            partition: {key: None for key, value in self.store.committed_items(partition)
                        if not is_alert_mark(key) and not value["done"]}
            for partition in self.store.owned()
        }


def _key_mismatch(key: bytes | None, request_id: str) -> str:
    got = "no key" if key is None else f"key {key[:80]!r}"
    return (f"the record has {got} but its request_id is {request_id!r}: prompts and outputs must be keyed by "
            "request_id so that both sides of a request reach the same partition")


def join_loop(ctx: StageContext) -> StageLoop:
    """The join (+ screen) stage's loop."""
    settings, topics = ctx.settings, ctx.topics
    spec = LoopSpec(name="join", topics=(topics.prompts, topics.outputs), group_id=ctx.group_id("join"),
                    max_records=settings.join.batch_size, window_s=settings.join.batch_window_s,
                    tick_interval_s=tick_interval_s(settings.join.timeout_s), dlq_topic=topics.dlq,
                    transaction_timeout_s=settings.stages.transaction_timeout_s)
    return StageLoop(settings, spec, JoinHandler(ctx), on_stall=ctx.on_stall, telemetry=ctx.telemetry)
