"""The ClickHouse sink: rows from events, idempotent inserts, back-off while the server is down.

`write` returns only once ClickHouse accepted the batch; the sink loop (`sinks`) commits the
batch's Kafka offsets after that. While ClickHouse is down `write` keeps retrying with capped
exponential back-off and the loop fetches nothing more, so the partitions wait in Kafka:
nothing is lost and memory stays bounded. Retried inserts are deduplicated (ReplacingMergeTree
plus insert deduplication), so a retry after an ambiguous failure never double-counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ..ops.settings import RaiwatchSettings
from ..schemas.alerts import AlertV1
from ..schemas.dead_letters import DeadLetterV1
from ..schemas.verdicts import VerdictV1

log = logging.getLogger(__name__)

VERDICT_COLUMNS = [
    "verdict_id", "request_id", "event_time", "tenant", "model_name", "model_version", "model_adapter", "stage",
    "revision", "policy_id", "policy_version", "pillars", "categories", "violation", "over_refusal", "partial",
    "severity", "scores", "unscored", "judge_score", "rationale", "evidence", "locale", "input_published_at",
    "stage_latency_ms",
]
MESSAGE_COLUMNS = ["request_id", "event_time", "tenant", "model_name", "model_version", "prompt_redacted", "output_redacted"]
DEAD_LETTER_COLUMNS = ["event_id", "event_time", "source_topic", "source_partition", "source_offset", "reason",
                       "detail", "stage", "original"]
ALERT_COLUMNS = ["alert_id", "kind", "dedup_key", "window_start", "event_time", "tenant", "model_name",
                 "model_version", "pillar", "category", "severity", "policy_id", "policy_version", "summary",
                 "verdict_ids", "details"]


def verdict_row(v: VerdictV1) -> list[Any]:
    return [
        v.verdict_id, v.request_id, v.ts, v.tenant, v.model.name, v.model.version, v.model.adapter, v.stage.value,
        v.stage.revision, v.policy_id, v.policy_version, [p.value for p in v.pillars], v.categories,
        int(v.violation), int(v.over_refusal), int(v.partial), v.severity.value,
        {c.check: c.score for c in v.checks if c.score is not None},
        [c.check for c in v.checks if c.score is None], v.judge_score, v.rationale,
        json.dumps([e.model_dump() for e in v.evidence]), v.locale,
        datetime.fromtimestamp(v.input_published_ms / 1000, UTC), v.stage_latency_ms,
    ]


def message_row(v: VerdictV1) -> list[Any]:
    return [v.request_id, v.ts, v.tenant, v.model.name, v.model.version, v.prompt_redacted, v.output_redacted]


def dead_letter_row(d: DeadLetterV1) -> list[Any]:
    return [d.event_id, d.ts, d.source_topic, d.source_partition, d.source_offset, d.reason.value, d.detail,
            d.stage, d.original()]


def alert_row(a: AlertV1) -> list[Any]:
    return [a.alert_id, a.kind, a.dedup_key, a.window_start, a.ts, a.tenant, a.model.name if a.model else "",
            a.model.version if a.model else "", a.pillar.value if a.pillar else "", a.category, a.severity.value,
            a.policy_id, a.policy_version, a.summary, a.verdict_ids, a.details]


class ClickHouseSink:
    """Inserts batches into one database, retrying until ClickHouse accepts them."""

    def __init__(self, settings: RaiwatchSettings, client_factory: Callable[[], Any] | None = None) -> None:
        from ..schemas.clickhouse import clickhouse_client

        self.settings = settings
        self._client_factory = client_factory or (lambda: clickhouse_client(settings, connect_timeout=5, send_receive_timeout=30))
        self._client: Any = None
        self._column_types: dict[str, Any] = {}  # table -> the server's column types, fetched once
        self.retries = 0

    def _insert(self, table: str, rows: Sequence[Sequence[Any]], columns: list[str]) -> None:
        if self._client is None:
            self._client = self._client_factory()
        # Same rows, same token: ClickHouse drops a retried block it already stored.
        token = hashlib.sha256(table.encode() + repr(rows).encode()).hexdigest()
        settings = {"insert_deduplication_token": token}
        types = self._column_types.get(table)
        if types is None:  # first insert: ask the server once (a DESCRIBE round trip per insert otherwise)
            context = self._client.create_insert_context(table, columns, settings=settings, data=rows)
            self._column_types[table] = context.column_types
            self._client.insert(context=context)
            return
        self._client.insert(table, rows, column_names=columns, column_types=types, settings=settings)

    async def write(self, table: str, rows: Sequence[Sequence[Any]], columns: list[str]) -> None:
        """Insert `rows`; on failure back off (0.1 s doubling to the cap) and retry, forever."""
        if not rows:
            return
        delay = 0.1
        while True:
            started = time.monotonic()
            try:
                await asyncio.to_thread(self._insert, table, rows, columns)
                return
            except Exception as exc:  # noqa: BLE001 - any failure: the server may be down; retry
                self.retries += 1
                self._client = None
                log.warning("insert of %d rows into %s failed after %.1fs (%s); retrying in %.1fs",
                            len(rows), table, time.monotonic() - started, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.sink_max_backoff_s)
