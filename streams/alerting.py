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
from ..schemas.policies import PolicyV1
from ..schemas.verdicts import VerdictV1
from .state_store import ChangelogStore
from .txloop import AfterCommit, Outbox
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

    def __init__(self, settings: RaiwatchSettings, policy: PolicyV1, store: ChangelogStore, alerts_topic: str) -> None:
        self.settings, self.policy, self.store, self.alerts_topic = settings, policy, store, alerts_topic

    async def publish(self, verdicts: list[tuple[int, VerdictV1]], outbox: Outbox) -> AfterCommit:
        """Send alerts for qualifying verdicts (partition, verdict); returns what to do once
        the transaction has committed (the webhook)."""
        threshold, window_ms = self.policy.alert_threshold.rank, self.settings.alert_window_s * 1000
        sent: list[AlertV1] = []
        now_ms = int(time.time() * 1000)
        for partition, verdict in verdicts:
            if not verdict.violation or verdict.severity.rank < threshold:
                continue
            key = alert_key(verdict)
            start = window_start(verdict, self.settings.alert_window_s)
            mark = f"{ALERT_PREFIX}{key}|{start.isoformat()}"
            if any(self.store.get(p, mark) is not None for p in {partition, *self.store.owned()}):
                continue
            alert = make_alert(verdict, key, start)
            until_ms = int(start.timestamp() * 1000) + 2 * window_ms  # late verdicts still dedup
            self.store.put(partition, mark, {"alert_id": alert.alert_id, "written_ms": now_ms, "until_ms": until_ms})
            await outbox.send(self.alerts_topic, alert.model_dump_json().encode(), key=key.encode())
            sent.append(alert)
        if not sent or not self.settings.alert_webhook_url:
            return None
        return lambda: self._notify(sent)

    def _notify(self, alerts: list[AlertV1]) -> None:
        task = asyncio.create_task(deliver(self.settings.alert_webhook_url, alerts, self.settings.alert_window_s))
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
