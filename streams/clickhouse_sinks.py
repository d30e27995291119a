"""The ClickHouse sink stage: verdicts, redacted texts, dead letters, alerts and reviews into their tables.

Two at-least-once loops (`runtime/loop.py`), each with its own consumer group and cadence:
- `clickhouse-verdicts` inserts verdicts at most once per `sinks.batch_window_s`: dashboards and
  the end-to-end latency wait for them;
- `clickhouse-deferred` inserts the redacted texts, dead letters, alerts and reviews at most once per
  `sinks.deferred_window_s`: nothing waits for them, and every insert makes a part, which on a
  small machine costs the server more than its rows (each small insert cost the local server
  12-25 ms of CPU, about half of it creating the part's files).
Each reads read_committed: only what the stages' transactions committed. Writes are idempotent
per source record (`clickhouse_sink`), so a crash, a takeover or a retry never counts twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schemas.dead_letters import DeadLetterReason, DeadLetterV2
from ..schemas.decoder import DecodeFailure, decode
from ..schemas.registry import TOPICS, topic_spec
from ..schemas.verdicts import VerdictV1
from .clickhouse_sink import (
    ALERT_COLUMNS, DEAD_LETTER_COLUMNS, MESSAGE_COLUMNS, REDTEAM_COLUMNS, REVIEW_COLUMNS, VERDICT_COLUMNS,
    ClickHouseTable, alert_row, dead_letter_row, message_row_from_json, redteam_row, review_row, verdict_row,
)
from .runtime.checkpoint import Checkpoint
from .runtime.context import StageContext
from .runtime.dead_letters import dead_letter_for, send_dead_letter
from .runtime.loop import Guarantee, Handler, LoopSpec, StageLoop
from .runtime.sink import SinkRow
from .telemetry import SpanRecord
from .verdict_telemetry import stored, verdict_span

log = logging.getLogger(__name__)

RowOf = Callable[[Any], list[Any] | None]


@dataclass(frozen=True)
class Route:
    """Rows of one table from the events of one topic. A `raw` route reads the record's bytes
    itself (the redacted texts need five fields of a verdict, not a validated verdict: the
    verdicts loop validates every verdict record and dead-letters a bad one)."""

    table: ClickHouseTable
    row_of: RowOf
    raw: bool = False


class ClickHouseSinkHandler(Handler):
    """Decodes each record of the loop's topics and hands its rows to the tables."""

    def __init__(self, ctx: StageContext, routes: dict[str, list[Route]], dead_letters_for: set[str],
                 traced: bool = False) -> None:
        self.ctx, self.routes = ctx, routes
        self.traced = traced and ctx.telemetry.tracing  # a span per stored record that came with a trace
        self.dead_letters_for = dead_letters_for  # topics whose bad records this loop dead-letters
        self.sinks = tuple(route.table for table_routes in routes.values() for route in table_routes)
        self.registry_name = {ctx.settings.topic(name): name for name in TOPICS}

    async def process(self, records: list[Any], checkpoint: Checkpoint) -> None:
        spans: list[SpanRecord] = []
        for record in records:
            routes = self.routes[record.topic]
            event = None if all(route.raw for route in routes) else await self._decode(record, checkpoint)
            if self.traced and isinstance(event, VerdictV1):
                span = verdict_span(event, record.headers, record.timestamp or 0)
                if span is not None:
                    spans.append(span)
            for route in routes:
                if route.raw:
                    row = route.row_of(record.value)
                elif event is None:
                    continue
                else:
                    row = route.row_of(event)
                if row is not None:
                    checkpoint.write(route.table, [SinkRow(record.partition, record.offset, row)])
        if spans:
            self._publish_spans(spans, checkpoint)

    def _publish_spans(self, spans: list[SpanRecord], checkpoint: Checkpoint) -> None:
        """The verdicts' spans, ended with their `raiwatch.stored` event once the checkpoint
        (the insert, then the offsets) has committed."""

        def publish() -> None:
            at = time.time_ns()
            self.ctx.telemetry.spans([stored(span, at) for span in spans])

        checkpoint.after_commit(publish)

    async def _decode(self, record: Any, checkpoint: Checkpoint) -> Any:
        name = self.registry_name[record.topic]
        if name == "rai.dlq":
            try:
                return DeadLetterV2.from_record(record.key, record.value, record.headers)
            except Exception as exc:  # noqa: BLE001 - a dead letter that is not one: keep it as such, never loop
                return dead_letter_for(record, DeadLetterReason.SCHEMA_VIOLATION,
                                       f"not a raiwatch dead letter: {exc}", "sink:rai.dlq")
        value = decode(record.value, topic_spec(name), self.ctx.settings.kafka.max_message_bytes)
        if not isinstance(value, DecodeFailure):
            return value
        if record.topic in self.dead_letters_for:
            await send_dead_letter(checkpoint, self.ctx.topics.dlq,
                                   dead_letter_for(record, value.reason, value.detail, f"sink:{name}"))
        return None


def verdicts_sink_loop(ctx: StageContext) -> StageLoop:
    """Verdicts into `verdicts`, at most once per `sinks.batch_window_s`."""
    settings, topics = ctx.settings, ctx.topics
    handler = ClickHouseSinkHandler(
        ctx, {topics.verdicts: [Route(ClickHouseTable(settings, "verdicts", VERDICT_COLUMNS, topics.verdicts),
                                      verdict_row)]},
        dead_letters_for={topics.verdicts}, traced=True)
    spec = LoopSpec(name="clickhouse-verdicts", topics=(topics.verdicts,), group_id=ctx.group_id("clickhouse-verdicts"),
                    max_records=settings.sinks.batch_size, window_s=settings.sinks.batch_window_s,
                    guarantee=Guarantee.AT_LEAST_ONCE, dlq_topic=topics.dlq)
    return StageLoop(settings, spec, handler, on_stall=ctx.on_stall, telemetry=ctx.telemetry)


def deferred_sink_loop(ctx: StageContext) -> StageLoop:
    """Redacted texts, dead letters, alerts and reviews, at most once per `sinks.deferred_window_s`."""
    settings, topics = ctx.settings, ctx.topics
    reviews, redteam = settings.topic("rai.reviews"), settings.topic("rai.redteam")
    handler = ClickHouseSinkHandler(ctx, {
        topics.verdicts: [Route(ClickHouseTable(settings, "messages", MESSAGE_COLUMNS, topics.verdicts),
                                message_row_from_json, raw=True)],
        topics.dlq: [Route(ClickHouseTable(settings, "dead_letters", DEAD_LETTER_COLUMNS, topics.dlq), dead_letter_row)],
        topics.alerts: [Route(ClickHouseTable(settings, "alerts", ALERT_COLUMNS, topics.alerts), alert_row)],
        reviews: [Route(ClickHouseTable(settings, "reviews", REVIEW_COLUMNS, reviews), review_row)],
        redteam: [Route(ClickHouseTable(settings, "redteam", REDTEAM_COLUMNS, redteam), redteam_row)],
    }, dead_letters_for={topics.alerts, reviews, redteam})  # bad verdict records are dead-lettered by the verdicts loop
    spec = LoopSpec(name="clickhouse-deferred", topics=(topics.verdicts, topics.dlq, topics.alerts, reviews, redteam),
                    group_id=ctx.group_id("clickhouse-deferred"), max_records=settings.sinks.batch_size,
                    window_s=settings.sinks.deferred_window_s, guarantee=Guarantee.AT_LEAST_ONCE,
                    dlq_topic=topics.dlq)
    return StageLoop(settings, spec, handler, on_stall=ctx.on_stall, telemetry=ctx.telemetry)
