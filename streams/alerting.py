"""The alert agent: violations at or above the policy's alert threshold become alerts,
deduplicated per key (tenant, model, pillar, category, policy) and time window."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

from ..schemas.alerts import AlertV1
from ..schemas.decoder import decode
from ..schemas.registry import topic_spec
from ..schemas.verdicts import VerdictV1
from .app import Pipeline
from .webhook import deliver


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


def attach(pipeline: Pipeline) -> None:
    settings, app, topics = pipeline.settings, pipeline.app, pipeline.topics
    policy = pipeline.policy
    spec = topic_spec("rai.verdicts")
    windows = app.Table("alert-windows", default=None, key_type=bytes,
                        partitions=topics["verdicts"].partitions, use_partitioner=True,
                        help="Alert keys already alerted in their window.")

    @app.agent(topics["verdicts"], name="alert")
    async def alert(stream):
        async for events in stream.take_events(500, within=0.2):
            new_alerts, deliveries, marks = [], [], {}
            for event in events:
                verdict = decode(event.message.value or b"", spec, settings.max_message_bytes)
                if not isinstance(verdict, VerdictV1) or not verdict.violation:
                    continue  # undecodable verdicts are dead-lettered by the sink agent
                if verdict.severity.rank < policy.alert_threshold.rank:
                    continue
                key = alert_key(verdict)
                start = window_start(verdict, settings.alert_window_s)
                table_key = f"{key}|{start.isoformat()}".encode()
                if table_key in marks or windows.get(table_key) is not None:
                    continue
                new = make_alert(verdict, key, start)
                new_alerts.append(new)
                deliveries.append(await topics["alerts"].send(key=key.encode(), value=new.model_dump_json().encode(), force=True))
                marks[table_key] = {"alert_id": new.alert_id, "first_verdict": verdict.verdict_id}
            await asyncio.gather(*deliveries)
            # Marked only once the alerts are on the broker: a crash before this re-sends them
            # (same alert ids, deduplicated in ClickHouse) rather than losing them.
            for table_key, mark in marks.items():
                windows[table_key] = mark
            if new_alerts and settings.alert_webhook_url:
                await deliver(settings.alert_webhook_url, new_alerts, settings.alert_window_s)
