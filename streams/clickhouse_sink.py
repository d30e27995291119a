"""A ClickHouse table as a `Sink`: rows from events, idempotent inserts, backpressure.

Every row carries the partition and offset of the Kafka record it came from
(`kafka_partition`, `kafka_offset`, migration 0002). That makes writes idempotent per record,
which is what keeps counts exact with and without FINAL:
- a retried insert of the same rows carries the same deduplication token, so ClickHouse drops
  it if the failed attempt landed after all;
- records a previous owner may have inserted (after a takeover: from the committed offset to the
  log end when the partition was assigned) and records inserted but not yet committed (the
  checkpoint may still fail) are looked up before they are inserted again, and skipped if there.

A failed insert raises `SinkBackpressure` with a capped exponential `retry_after`; the loop
pauses the partitions meanwhile (`runtime/loop.py`). An insert that has started always runs to
its end, even when the loop is stopped, so no write of a cancelled checkpoint lands later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from ..ops.settings import RaiwatchSettings
from ..schemas.alerts import AlertV1
from ..schemas.common import ModelRef
from ..schemas.redteam import RedteamExampleV1
from ..schemas.reviews import ReviewRequestV1
from ..schemas.dead_letters import DeadLetterV2
from ..schemas.verdicts import Stage, VerdictV1
from .runtime.sink import Sink, SinkBackpressure, SinkRow
from .verdicts import verdict_findings

log = logging.getLogger(__name__)

SOURCE_COLUMNS = ["kafka_partition", "kafka_offset"]
VERDICT_COLUMNS = [
    "verdict_id", "request_id", "event_time", "tenant", "model_name", "model_version", "model_adapter", "stage",
    "revision", "policy_id", "policy_version", "pillars", "categories", "violation", "over_refusal", "partial",
    "severity", "scores", "unscored", "judge_score", "rationale", "evidence", "locale", "input_published_at",
    "stage_latency_ms", "policies", "broken_policies", "findings", "prev_revision", "prev_findings",
    "prev_violation", "prev_over_refusal", "prev_partial",
]
MESSAGE_COLUMNS = ["request_id", "event_time", "tenant", "model_name", "model_version", "prompt_redacted", "output_redacted"]
DEAD_LETTER_COLUMNS = ["event_id", "event_time", "source_topic", "source_partition", "source_offset", "reason",
                       "detail", "stage", "original", "original_size", "original_sha256", "original_truncated"]
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
        v.policies, sorted({policy for c in v.checks for policy in c.breaks}), verdict_findings(v),
        *_superseded_values(v),
    ]


def _superseded_values(v: VerdictV1) -> list[Any]:
    """prev_revision, prev_findings, prev_violation, prev_over_refusal, prev_partial: what the
    metrics views subtract when this revision replaces an earlier one (0 and empty: none)."""
    old = v.supersedes
    if old is None:
        return [0, [], 0, 0, 0]
    return [old.stage.revision, [tuple(f) for f in old.findings], int(old.violation), int(old.over_refusal),
            int(old.partial)]


def message_row_from_json(raw: bytes | None) -> list[Any] | None:
    """The redacted texts of a rai.verdicts record, once per request: from the screen verdict (a
    judge revision repeats them). Read straight from the JSON: five fields, no validation (the
    verdicts loop validates the same record); a record without them gives no row."""
    try:
        v = orjson.loads(raw or b"")
        if v.get("stage") != Stage.SCREEN.value:
            return None
        model = v["model"]
        return [v["request_id"], datetime.fromisoformat(v["ts"]), v.get("tenant", "default"), model["name"],
                model.get("version", ""), v.get("prompt_redacted", ""), v.get("output_redacted", "")]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        log.warning("a rai.verdicts record without the fields of a verdict; no redacted texts stored for it")
        return None


def dead_letter_row(d: DeadLetterV2) -> list[Any]:
    return [d.event_id, d.ts, d.source_topic, d.source_partition, d.source_offset, d.reason.value, d.detail,
            d.stage, d.original, d.original_size, d.original_sha256, int(d.original_truncated)]


REDTEAM_COLUMNS = ["example_id", "event_time", "source", "prompt_redacted", "output_redacted", "model_name",
                   "model_version", "model_adapter", "pillar", "category", "policy_id", "policy_version"]


def redteam_row(r: RedteamExampleV1) -> list[Any]:
    model = r.model or ModelRef(name="", version="")
    return [r.example_id, r.ts, r.source, r.prompt_redacted, r.output_redacted, model.name, model.version,
            model.adapter, r.pillar.value, r.category, r.policy_id, r.policy_version]


REVIEW_COLUMNS = ["review_id", "verdict_id", "request_id", "event_time", "tenant", "pillar", "category", "reason",
                  "status", "label", "reviewer", "prompt_redacted", "output_redacted"]


def review_row(r: ReviewRequestV1) -> list[Any]:
    """A pending review (a label replaces it: `ops/review_server.py`)."""
    return [r.review_id, r.verdict_id, r.request_id, r.ts, r.tenant, r.pillar.value, r.category, r.reason, "pending",
            "", "", r.prompt_redacted, r.output_redacted]


def alert_row(a: AlertV1) -> list[Any]:
    return [a.alert_id, a.kind, a.dedup_key, a.window_start, a.ts, a.tenant, a.model.name if a.model else "",
            a.model.version if a.model else "", a.pillar.value if a.pillar else "", a.category, a.severity.value,
            a.policy_id, a.policy_version, a.summary, a.verdict_ids, a.details]


class ClickHouseTable(Sink):
    """One table fed from one topic; see the module docstring."""

    def __init__(self, settings: RaiwatchSettings, table: str, columns: list[str], topic: str) -> None:
        self.settings, self.name, self.topic = settings, table, topic
        self.columns = columns + SOURCE_COLUMNS
        self.first_backoff_s, self.max_backoff_s = settings.sinks.first_backoff_s, settings.sinks.max_backoff_s
        self._client: Any = None
        self._column_types: Any = None  # the server's column types, fetched once
        self._maybe_stored: dict[int, list[tuple[int, int]]] = {}  # partition -> [start, end) offset ranges
        self._failures = 0
        self.inserts = self.skipped = 0

    # --- idempotence bookkeeping ---
    def may_hold(self, partition: int, start: int, end: int) -> None:
        if end > start:
            self._maybe_stored.setdefault(partition, []).append((start, end))

    def committed(self, offsets: dict[int, int]) -> None:
        """Offsets (partition -> next offset) are committed: nothing below is read again."""
        for partition, offset in offsets.items():
            ranges = [(max(start, offset), end) for start, end in self._maybe_stored.get(partition, []) if end > offset]
            if ranges:
                self._maybe_stored[partition] = ranges
            else:
                self._maybe_stored.pop(partition, None)

    def _suspect(self, row: SinkRow) -> bool:
        return any(start <= row.offset < end for start, end in self._maybe_stored.get(row.partition, ()))

    # --- writing ---
    async def write(self, rows: Sequence[SinkRow]) -> None:
        if not rows:
            return
        try:
            if any(self._suspect(row) for row in rows):
                rows = await _run_to_end(self._without_stored, rows)
            if rows:
                await _run_to_end(self._insert, rows)
        except Exception as exc:  # noqa: BLE001 - any failure: the server may be down; the loop backs off
            self._failures += 1
            self._client = None
            self._remember(rows)  # it may have landed after all
            delay = min(self.first_backoff_s * 2 ** (self._failures - 1), self.max_backoff_s)
            raise SinkBackpressure(f"insert of {len(rows)} rows into {self.name} failed ({type(exc).__name__}: "
                                   f"{exc})", delay) from exc
        self._failures = 0
        self._remember(rows)  # until the checkpoint has committed their offsets

    def _remember(self, rows: Sequence[SinkRow]) -> None:
        spans: dict[int, tuple[int, int]] = {}
        for row in rows:
            low, high = spans.get(row.partition, (row.offset, row.offset))
            spans[row.partition] = (min(low, row.offset), max(high, row.offset))
        for partition, (low, high) in spans.items():
            self.may_hold(partition, low, high + 1)

    def _connect(self) -> Any:
        if self._client is None:
            from ..schemas.clickhouse import clickhouse_client

            self._client = clickhouse_client(self.settings, connect_timeout=5,
                                             send_receive_timeout=self.settings.sinks.insert_timeout_s)
        return self._client

    def _without_stored(self, rows: Sequence[SinkRow]) -> list[SinkRow]:
        """Drop the rows whose source record is already in the table."""
        client, stored = self._connect(), set()
        for partition in {row.partition for row in rows if self._suspect(row)}:
            offsets = [row.offset for row in rows if row.partition == partition]
            result = client.query(
                f"SELECT kafka_offset FROM {self.name} WHERE kafka_partition = {{p:Int32}} "
                "AND kafka_offset BETWEEN {lo:Int64} AND {hi:Int64}",
                parameters={"p": partition, "lo": min(offsets), "hi": max(offsets)})
            stored.update((partition, offset) for (offset,) in result.result_rows)
        kept = [row for row in rows if (row.partition, row.offset) not in stored]
        if len(kept) < len(rows):
            self.skipped += len(rows) - len(kept)
            log.info("%s: %d rows already stored (a previous attempt or owner wrote them); skipped",
                     self.name, len(rows) - len(kept))
        return kept

    def _insert(self, rows: Sequence[SinkRow]) -> None:
        client = self._connect()
        data = [[*row.values, row.partition, row.offset] for row in rows]
        # Same records, same token: ClickHouse drops a retried block it already stored.
        token = hashlib.sha256(f"{self.name}:{[(row.partition, row.offset) for row in rows]}".encode()).hexdigest()
        settings = {"insert_deduplication_token": token}
        if self._column_types is None:  # first insert: ask the server once (a DESCRIBE per insert otherwise)
            context = client.create_insert_context(self.name, self.columns, settings=settings, data=data)
            self._column_types = context.column_types
            client.insert(context=context)
        else:
            client.insert(self.name, data, column_names=self.columns, column_types=self._column_types,
                          settings=settings)
        self.inserts += 1

    async def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001
                pass
            self._client = None


async def _run_to_end(function: Any, *args: Any) -> Any:
    """`function(*args)` in a thread; if the caller is cancelled meanwhile, wait for the thread
    to finish before giving up, so its effect can never land after the caller moved on."""
    future = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
