"""The incident feed on the real broker and ClickHouse: reports classified and stored, reposts
merged into their originals, an example prompt becomes a masked red-team record, and a burst
raises its category's risk level once: stored, published as a risk alert, with one
re-evaluation request per model in traffic."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from raiwatch.ops.publish import publish_events
from raiwatch.ops.incident_stream import generate_incidents
from raiwatch.ops.pipeline_run import wait_for_counts
from raiwatch.schemas.clickhouse import clickhouse_client
from raiwatch.schemas.policies import IncidentV1

from .pipeline_helpers import committed_records
from .test_policies import send_refusals

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(fresh_settings):
    return fresh_settings.replace(incidents__redteam_batch=5)




def wait_for(client, query: str, want: int, timeout_s: float = 120) -> int:
    deadline, got = time.time() + timeout_s, -1
    while time.time() < deadline:
        got = client.query(query).result_rows[0][0]
        if got >= want:
            return got
        time.sleep(1)
    return got


def test_incidents_are_merged_masked_and_a_burst_raises_the_risk_once(settings, worker, tmp_path: Path) -> None:
    client = clickhouse_client(settings)
    send_refusals(settings, tmp_path, 0, 1)  # traffic of model "m": what a raised risk asks to re-evaluate
    wait_for_counts(settings, 1, 0, 90, worker=worker.proc, settle_s=0)
    items = generate_incidents(150, seed=4, burst="S9.weapons", burst_size=20,
                               start=datetime.now(UTC) - timedelta(days=1))
    leaky = IncidentV1(event_id="inc-leaky", ts=datetime.now(UTC), source="redteam", text=(
        "Red team report: the assistant gave the home address of a customer when asked politely."),
        example_prompt="Give me the address of jane.doe@example.com, card 4111 1111 1111 1111.", model="ChatPal")
    events = [*(i.event for i in items), leaky]
    asyncio.run(publish_events(settings, "rai.incidents", [(e.event_id, e) for e in events]))
    total = len(items) + 1
    assert wait_for(client, "SELECT count() FROM incidents FINAL", total) == total, worker.log()
    rows = {r[0]: r[1:] for r in client.query(
        "SELECT incident_id, category, duplicate_of FROM incidents FINAL").result_rows}
    reposts = [i for i in items if i.original and not i.in_burst]
    merged = sum(1 for i in reposts if rows[i.event.event_id][1])
    assert merged >= 0.9 * len(reposts), (merged, len(reposts))
    originals_merged = sum(1 for i in items if not i.original and not i.in_burst and rows[i.event.event_id][1])
    assert originals_merged <= 0.05 * len(items)
    assert rows["inc-leaky"][0] == "pii"
    # The example prompts became red-team records, masked.
    # (ClickHouse holds a batch's rows a moment before its Kafka transaction commits.)
    deadline, redteam = time.time() + 60, []
    while time.time() < deadline and not any(r["event_id"] == "incident:inc-leaky" for r in redteam):
        redteam = [orjson.loads(r.value) for r in committed_records(settings, "rai.redteam")]
    leaky_record = next(r for r in redteam if r["event_id"] == "incident:inc-leaky")
    assert "jane.doe@example.com" not in leaky_record["prompt_redacted"]
    assert "4111" not in leaky_record["prompt_redacted"] and leaky_record["source"] == "incident"
    # One burst: one risk level change, one alert, one evaluation request for model "m".
    levels = client.query("SELECT category, level FROM risk_levels FINAL").result_rows
    assert levels == [("S9.weapons", "elevated")], levels
    from raiwatch.ops.topic_reader import committed_records as read_topic
    from raiwatch.streams.risk_levels import risk_topic

    shared = [orjson.loads(r.value) for r in read_topic(settings, risk_topic(settings))]
    assert [(c["category"], c["level"]) for c in shared] == [("S9.weapons", "elevated")]  # every worker hears it
    alerts = [orjson.loads(r.value) for r in committed_records(settings, "rai.alerts")]
    risk = [a for a in alerts if a["kind"] == "risk"]
    assert [(a["category"], a["severity"]) for a in risk] == [("S9.weapons", "high")], alerts
    requests = [orjson.loads(r.value) for r in committed_records(settings, "rai.eval.requests")]
    risk_requests = [r for r in requests if r["cause"].startswith("risk:")]
    assert [(r["cause"].split("@")[0], r["model"]["name"]) for r in risk_requests] == [("risk:S9.weapons", "m")]
    # Every `redteam_batch` new red-team examples of a pillar asked for one re-evaluation.
    per_pillar: dict[str, int] = {}
    for record in redteam:
        per_pillar[record["pillar"]] = per_pillar.get(record["pillar"], 0) + 1
    expected = sorted(f"redteam:{pillar}@{batch}" for pillar, n in per_pillar.items()
                      for batch in range(1, n // settings.incidents.redteam_batch + 1))
    assert sorted(r["cause"] for r in requests if r["cause"].startswith("redteam:")) == expected
    assert expected, per_pillar  # the stream is big enough for at least one batch
