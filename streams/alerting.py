"""Alerts: violations at or above the policy's alert threshold, deduplicated per key (tenant,
model, pillar, category, policy) and time window; to rai.alerts, ClickHouse (via the alerts
sink) and, when configured, an Alertmanager-compatible webhook."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime

from ..ops.settings import RaiwatchSettings
from ..schemas.alerts import AlertV1
from ..schemas.common import Severity
from ..schemas.verdicts import VerdictV1
from .policy_set import PolicySet
from .runtime.checkpoint import Checkpoint
from .runtime.stall import StallReport
from .runtime.state_store import ChangelogStore
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


ALERT_PREFIX = "alert|"


class Alerter:
    """Turns verdicts into deduplicated alerts inside the caller's transaction.

    The "already alerted" marks live in the loop's changelog store (key `alert|<key>|<window>`,
    in the partition of the verdict that raised the alert), written in the same transaction as
    the alert itself: after a crash both or neither exist. Each worker dedups across the
    partitions it owns; two workers may both alert a key in one window, with the same
    deterministic alert id, so ClickHouse keeps one row."""

    def __init__(self, settings: RaiwatchSettings, store: ChangelogStore, alerts_topic: str) -> None:
        self.settings, self.store, self.alerts_topic = settings, store, alerts_topic

    async def publish(self, verdicts: list[tuple[int, VerdictV1]], checkpoint: Checkpoint, policy: PolicySet) -> None:
        """Send alerts for qualifying verdicts (partition, verdict) with `checkpoint`, at the
        alert threshold of `policy` (the set the batch was judged under); the webhook is called
        once it has committed."""
        threshold, window_ms = policy.alert_threshold.rank, self.settings.alerts.window_s * 1000
        sent: list[AlertV1] = []
        now_ms = int(time.time() * 1000)
        for partition, verdict in verdicts:
            if not verdict.violation or verdict.severity.rank < threshold:
                continue
            key = alert_key(verdict)
            start = window_start(verdict, self.settings.alerts.window_s)
            mark = f"{ALERT_PREFIX}{key}|{start.isoformat()}"
            if any(self.store.get(p, mark) is not None for p in {partition, *self.store.owned()}):
                continue
            alert = make_alert(verdict, key, start)
            until_ms = int(start.timestamp() * 1000) + 2 * window_ms  # late verdicts still dedup
            self.store.put(partition, mark, {"alert_id": alert.alert_id, "written_ms": now_ms, "until_ms": until_ms})
            await checkpoint.send(self.alerts_topic, alert.model_dump_json().encode(), key=key.encode())
            sent.append(alert)
        if sent and self.settings.alerts.webhook_url:
            checkpoint.after_commit(lambda: self._notify(sent))

    def _notify(self, alerts: list[AlertV1]) -> None:
        task = asyncio.create_task(deliver(self.settings.alerts.webhook_url, alerts, self.settings.alerts.window_s))
        task.add_done_callback(lambda t: t.exception() and log.error("webhook task failed: %s", t.exception()))


def is_alert_mark(key: str) -> bool:
    """Whether a store key is an alert mark (the join's store also holds requests)."""
    return key.startswith(ALERT_PREFIX)


def alert_mark_expired(mark: dict, now_ms: int) -> bool:
    """The mark's window (plus one for late verdicts) has passed."""
    return mark["until_ms"] <= now_ms


def purge_alert_marks(store: ChangelogStore, partition: int, now_ms: int) -> None:
    """Forget expired alert marks."""
    for key, value in store.committed_items(partition):
        if is_alert_mark(key) and alert_mark_expired(value, now_ms):
            store.delete(partition, key)


class StallAlerts:
    """Publishes the stage loops' stall reports as alerts (kind "stall") with a producer of its
    own: the stalled loop's transactions may be exactly what is stuck."""

    def __init__(self, settings: RaiwatchSettings, alerts_topic: str) -> None:
        self.settings, self.alerts_topic = settings, alerts_topic
        self._producer = None

    async def __call__(self, report: StallReport) -> None:
        from ..ops import kafka_clients

        if self._producer is None:
            self._producer = kafka_clients.producer(self.settings, enable_idempotence=True, acks="all")
            await self._producer.start()
        key = f"stall|{report.stage}|{report.topic}|{report.partition}"
        now = datetime.now(UTC)
        alert = AlertV1(
            event_id=hashlib.sha256(f"{key}|{report.offset}".encode()).hexdigest()[:32], ts=now,
            alert_id=hashlib.sha256(f"{key}|{report.offset}".encode()).hexdigest()[:32], kind="stall", dedup_key=key,
            window_start=now, severity=Severity.HIGH,
            summary=(f"{report.stage}: {report.topic}[{report.partition}] has not moved for {report.stalled_s:.0f}s "
                     f"with {report.lag} records waiting; held at offset {report.offset}"),
            details={"offset": float(report.offset), "lag": float(report.lag), "stalled_s": report.stalled_s})
        await self._producer.send_and_wait(self.alerts_topic, alert.model_dump_json().encode(), key=key.encode())

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
