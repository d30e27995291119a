"""Alerts: violations at or above the policy's alert threshold, deduplicated per key (tenant,
model, pillar, category, policy) and time window; to rai.alerts, ClickHouse (via the alerts
sink) and, when configured, an Alertmanager-compatible webhook."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime

from ..schemas.alerts import AlertV1
from ..schemas.verdicts import VerdictV1
from .app import Pipeline
from .webhook import deliver

log = logging.getLogger(__name__)


def alert_key(verdict: VerdictV1) -> str:
    """What makes two violations "the same alert"."""
    pillar = verdict.pillars[0].value if verdict.pillars else ""
    category = verdict.categories[0] if verdict.categories else ""
    return "|".join([verdict.tenant, verdict.model.name, verdict.model.version, pillar, category, verdict.policy_id])


def window_start(verdict: VerdictV1, window_s: int) -> datetime:
    """Start of the verdict's alert window (event time, so replays agree)."""
    epoch = int(verdict.ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_s, UTC)


def make_alert(verdict: VerdictV1, key: str, start: datetime) -> AlertV1:
    """The alert for the first qualifying verdict of a key and window (deterministic id)."""
    alert_id = hashlib.sha256(f"{key}\0{start.isoformat()}".encode()).hexdigest()[:32]
    what = ", ".join(verdict.categories) or "violation"
    return AlertV1(
        event_id=alert_id, ts=verdict.ts, alert_id=alert_id, kind="violation", dedup_key=key, window_start=start,
        tenant=verdict.tenant, model=verdict.model, pillar=verdict.pillars[0] if verdict.pillars else None,
        category=verdict.categories[0] if verdict.categories else "", severity=verdict.severity,
        policy_id=verdict.policy_id, policy_version=verdict.policy_version,
        summary=f"{verdict.severity.value} {what} from {verdict.model.name} {verdict.model.version} ({verdict.tenant})",
        verdict_ids=[verdict.verdict_id],
    )


class Alerter:
    """Turns verdicts into deduplicated alerts. The window table records an alert only after
    the caller has awaited its delivery (`mark_sent`), so a crash re-sends rather than loses it
    (same alert id: ClickHouse keeps one row)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline, self.settings = pipeline, pipeline.settings
        self.windows = pipeline.app.Table(
            "alert-windows", default=None, key_type=bytes, partitions=pipeline.topics["verdicts"].partitions,
            use_partitioner=True, help="Alert keys already alerted in their window.")
        self._in_flight: dict[bytes, AlertV1] = {}

    async def publish(self, verdicts: list[VerdictV1]) -> tuple[list[Awaitable], dict[bytes, AlertV1]]:
        """Send alerts for qualifying verdicts; returns their delivery futures and the batch to
        pass to `mark_sent` once those are awaited."""
        threshold = self.pipeline.policy.alert_threshold.rank
        deliveries, batch = [], {}
        for verdict in verdicts:
            if not verdict.violation or verdict.severity.rank < threshold:
                continue
            key = alert_key(verdict)
            start = window_start(verdict, self.settings.alert_window_s)
            table_key = f"{key}|{start.isoformat()}".encode()
            if table_key in self._in_flight or self.windows.get(table_key) is not None:
                continue
            alert = make_alert(verdict, key, start)
            self._in_flight[table_key] = batch[table_key] = alert
            deliveries.append(await self.pipeline.topics["alerts"].send(
                key=key.encode(), value=alert.model_dump_json().encode(), force=True))
        return deliveries, batch

    def mark_sent(self, sent: dict[bytes, AlertV1]) -> None:
        """Record a published batch whose deliveries were awaited."""
        if not sent:
            return
        for table_key, alert in sent.items():
            self.windows[table_key] = {"alert_id": alert.alert_id}
            self._in_flight.pop(table_key, None)
        if self.settings.alert_webhook_url:
            task = asyncio.create_task(deliver(self.settings.alert_webhook_url, list(sent.values()),
                                               self.settings.alert_window_s))
            task.add_done_callback(lambda t: t.exception() and log.error("webhook task failed: %s", t.exception()))
