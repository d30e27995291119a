"""The join agent: prompts and outputs keyed by request_id meet in a Faust table; each
micro-batch of completed (or timed-out) requests is screened right here (streams/screen.py).

Crash safety: within a batch, verdicts and dead letters are published and acknowledged by the
broker *before* the table records the request as done; offsets are committed after that. A crash in between replays the batch: a request not yet marked done is joined again and
the verdict id dedups it downstream; one marked done is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..schemas.decoder import DecodeFailure, decode
from ..schemas.registry import topic_spec
from .app import Pipeline
from .dlq import send_dead_letter
from .alerting import Alerter
from .input_progress import InputProgress
from .screen import Screener
from .join_state import Emit, Reject, Skip, expire, missing_side, on_event, should_expire, should_purge

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_WINDOW_S = 0.02


def _now_ms() -> int:
    return int(time.time() * 1000)


def attach(pipeline: Pipeline) -> None:
    settings, app = pipeline.settings, pipeline.app
    prompts_topic = settings.topic("rai.prompts")
    specs = {prompts_topic: ("prompt", topic_spec("rai.prompts")),
             settings.topic("rai.outputs"): ("output", topic_spec("rai.outputs"))}
    table = app.Table("join", default=None, key_type=bytes,
                      partitions=pipeline.topics["inputs"].partitions, use_partitioner=True,
                      help="Pending and recently joined requests by request_id.")
    dlq_topic = pipeline.topics["dlq"]
    alerter = Alerter(pipeline)
    pipeline.alerter = alerter
    screener = Screener(pipeline, alerter)
    lock = asyncio.Lock()
    max_ts: dict[tuple[str, int], int] = {}  # (side, partition) -> latest Kafka timestamp read
    topic_of = {side: name for name, (side, _) in specs.items()}
    progress = InputProgress(settings, app.conf.id)
    timeout_ms = int(settings.join_timeout_s * 1000)

    async def publish(emits: list[tuple[bytes, Emit]], deliveries: list) -> None:
        """Screen the joined requests and wait until their verdicts (and dead letters, alerts)
        are on the broker; only then may the caller mark the requests done."""
        verdict_deliveries, alerts = await screener.screen([emit.joined for _, emit in emits])
        await asyncio.gather(*deliveries, *verdict_deliveries)
        alerter.mark_sent(alerts)

    @app.agent(pipeline.topics["inputs"], name="join")
    async def join(stream):
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_S):
            async with lock:
                now = _now_ms()
                updates: dict[bytes, dict] = {}
                emits: list[tuple[bytes, Emit]] = []
                deliveries: list = []
                for event in events:
                    message = event.message
                    side, spec = specs[message.topic]
                    ts_ms = int((message.timestamp or 0) * 1000)
                    max_ts[(side, message.partition)] = max(max_ts.get((side, message.partition), 0), ts_ms)
                    progress.on_read(message.topic, message.partition, message.offset)
                    decoded = decode(message.value or b"", spec, settings.max_message_bytes)
                    if isinstance(decoded, DecodeFailure):
                        deliveries.append(await send_dead_letter(dlq_topic, message, decoded.reason, decoded.detail, "decode"))
                        continue
                    key = decoded.request_id.encode()
                    entry = updates[key] if key in updates else table.get(key)
                    entry, action = on_event(entry, side, decoded, message.partition, ts_ms, now)
                    if isinstance(action, Skip):
                        continue
                    if isinstance(action, Reject):
                        deliveries.append(await send_dead_letter(dlq_topic, message, action.reason, action.detail, "join"))
                        continue
                    updates[key] = entry
                    if isinstance(action, Emit):
                        emits.append((key, action))
                await publish(emits, deliveries)
                for key, entry in updates.items():
                    table[key] = entry

    @app.timer(interval=min(1.0, max(settings.join_timeout_s / 4, 0.1)), name="join-expiry")
    async def expire_pending() -> None:
        pending = [(topic_of[missing_side(e)], e["partition"]) for e in list(table.values()) if e and not e["done"]]
        await progress.refresh(set(pending), time.time())
        async with lock:
            now = _now_ms()
            emits, updates, purge = [], {}, []
            for key, entry in list(table.items()):
                if entry is None:
                    continue
                if should_purge(entry, now, int(settings.join_retention_s * 1000)):
                    purge.append(key)
                    continue
                if entry["done"]:
                    continue
                partition = entry["partition"]
                known = [max_ts.get((s, partition)) for s in ("prompt", "output")]
                watermark = min(known) if all(v is not None for v in known) else None
                waited = progress.caught_up_for(topic_of[missing_side(entry)], partition, now / 1000)
                if should_expire(entry, now, timeout_ms, watermark, waited >= settings.join_timeout_s):
                    log.debug("join timeout for %s (watermark %s, caught up %.1fs)", key, watermark, waited)
                    updates[key], emit = expire(entry, now)
                    emits.append((key, emit))
            if emits:
                await publish(emits, [])
            for key, entry in updates.items():
                table[key] = entry
            for key in purge:
                del table[key]
