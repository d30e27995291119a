"""Alertmanager-compatible webhook: payload shape, retries with back-off, giving up."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from raiwatch.schemas.alerts import AlertV1
from raiwatch.schemas.common import ModelRef, Pillar, Severity
from raiwatch.streams.webhook import alertmanager_payload, deliver

ALERT = AlertV1(event_id="a1", alert_id="a1", kind="violation", dedup_key="t|m|1|safety|S9|p",
                window_start=datetime(2026, 11, 1, 12, 0, tzinfo=UTC), tenant="acme",
                model=ModelRef(name="m", version="1"), pillar=Pillar.SAFETY, category="S9.weapons",
                severity=Severity.HIGH, policy_id="p", summary="high S9.weapons from m 1 (acme)", verdict_ids=["v1"])


def test_payload_has_alertmanager_shape() -> None:
    (item,) = alertmanager_payload([ALERT], window_s=300)
    assert item["labels"]["alertname"] == "raiwatch_violation"
    assert item["labels"]["severity"] == "high" and item["labels"]["model_version"] == "1"
    assert item["annotations"]["summary"] == ALERT.summary
    assert item["startsAt"] == "2026-11-01T12:00:00+00:00" and item["endsAt"] == "2026-11-01T12:05:00+00:00"


class Receiver(BaseHTTPRequestHandler):
    statuses: list[int] = []
    bodies: list[list] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Receiver.bodies.append(body)
        self.send_response(Receiver.statuses.pop(0) if Receiver.statuses else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.bodies.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v2/alerts"
    server.shutdown()


async def test_retries_server_errors_then_delivers(receiver) -> None:
    Receiver.statuses = [503, 500]
    assert await deliver(receiver, [ALERT], 300, attempts=3)
    assert len(Receiver.bodies) == 3 and Receiver.bodies[-1][0]["labels"]["tenant"] == "acme"


async def test_gives_up_after_the_last_attempt(receiver) -> None:
    Receiver.statuses = [500, 500]
    assert not await deliver(receiver, [ALERT], 300, attempts=2)
    assert len(Receiver.bodies) == 2


async def test_unreachable_webhook_is_reported_not_raised() -> None:
    assert not await deliver("http://127.0.0.1:9/none", [ALERT], 300, attempts=2, timeout_s=1)
