"""Alertmanager-compatible webhook delivery with retries and back-off."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx

from ..schemas.alerts import AlertV1

log = logging.getLogger(__name__)


def alertmanager_payload(alerts: list[AlertV1], window_s: int) -> list[dict]:
    """Alerts in Alertmanager's POST /api/v2/alerts shape: labels identify, annotations explain."""
    payload = []
    for alert in alerts:
        labels = {"alertname": f"raiwatch_{alert.kind}", "severity": alert.severity.value, "tenant": alert.tenant,
                  "policy_id": alert.policy_id, "pillar": alert.pillar.value if alert.pillar else "",
                  "category": alert.category, "dedup_key": alert.dedup_key}
        if alert.model:
            labels.update(model_name=alert.model.name, model_version=alert.model.version)
        payload.append({
            "labels": {k: v for k, v in labels.items() if v},
            "annotations": {"summary": alert.summary, "alert_id": alert.alert_id,
                            "verdict_ids": ",".join(alert.verdict_ids[:20])},
            "startsAt": alert.window_start.isoformat(),
            "endsAt": (alert.window_start + timedelta(seconds=window_s)).isoformat(),
        })
    return payload


async def deliver(url: str, alerts: list[AlertV1], window_s: int, attempts: int = 5, timeout_s: float = 5.0) -> bool:
    """POST the alerts; retry with exponential back-off. False when every attempt failed (the
    alerts are still in rai.alerts and ClickHouse; the webhook is a notification, not storage)."""
    payload = alertmanager_payload(alerts, window_s)
    delay = 0.5
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = await client.post(url, json=payload)
                if response.status_code < 500 and response.status_code != 429:
                    if response.is_error:
                        log.error("webhook %s rejected %d alert(s): HTTP %d", url, len(alerts), response.status_code)
                        return False
                    return True
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("webhook attempt %d/%d failed (%s)", attempt, attempts, reason)
            if attempt < attempts:
                await asyncio.sleep(delay)
                delay *= 2
    return False
