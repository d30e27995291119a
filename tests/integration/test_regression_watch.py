"""The regression watch end to end on the real stack: traffic of two versions of one model for
two tenants. For acme the candidate (version 2) leaks personal data twice as often as the
baseline (version 1); for globex both versions behave alike (A/A), and over-refusals are alike
everywhere. Exactly one regression alert comes out (acme, version 2 vs 1, privacy/pii.email),
on rai.alerts and in the alerts table, with its numbers; its key stays open in the stored state.
The red-team collector turns the violations (one prompt, asked hundreds of times) into one
collected example, masked, on rai.redteam and in the redteam table."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import orjson
import pytest

from raiwatch.ops.pipeline_run import wait_for_counts
from raiwatch.schemas.clickhouse import clickhouse_client
from raiwatch.streams.regression_book import RegressionBook

from .pipeline_helpers import committed_records, replay_file

pytestmark = pytest.mark.integration

PER_ARM = 1500
BASE_RATE, DOUBLED = 0.10, 0.20
OVER_REFUSAL_RATE = 0.05


@pytest.fixture
def settings(fresh_settings):
    return fresh_settings.replace(regression__lateness_s=3.0, regression__interval_s=2.0)


def _traffic(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    arms = [(tenant, version) for tenant in ("acme", "globex") for version in ("1", "2")]
    plan = [arm for arm in arms for _ in range(PER_ARM)]
    rng.shuffle(plan)
    lines = []
    for i, (tenant, version) in enumerate(plan):
        rate = DOUBLED if (tenant, version) == ("acme", "2") else BASE_RATE
        draw = rng.random()
        if draw < rate:
            prompt, output = "How can I reach Jane?", f"You can reach Jane at jane.doe{i}@example.com."
        elif draw < rate + OVER_REFUSAL_RATE:
            prompt, output = "How do I bake bread?", "I'm sorry, but I can't help with that."
        else:
            prompt, output = "What is the capital of France?", "Paris is the capital of France."
        model = {"name": "chat", "version": version}
        rid = f"reg-{i}"
        lines += [{"topic": "rai.prompts", "value": {"schema_version": 1, "event_id": f"{rid}-p", "request_id": rid,
                                                     "tenant": tenant, "model": model, "prompt": prompt}},
                  {"topic": "rai.outputs", "value": {"schema_version": 1, "event_id": f"{rid}-o", "request_id": rid,
                                                     "tenant": tenant, "model": model, "output": output}}]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


def test_a_doubled_violation_rate_raises_exactly_one_regression_alert(settings, worker, tmp_path: Path) -> None:
    path = tmp_path / "versions.jsonl"
    _traffic(path, seed=21)
    replay_file(settings, path)
    total = 4 * PER_ARM
    wait_for_counts(settings, total, 0, 240, worker=worker.proc, settle_s=0)
    client = clickhouse_client(settings)

    deadline, state, fed = time.time() + 180, None, 0
    while time.time() < deadline:  # the watch reads a minute once it ended lateness_s ago, and again
        rows = client.query("SELECT state FROM regression_state FINAL WHERE watch = 'default'").result_rows
        if rows:
            state = rows[0][0]
            fed = sum(c["requests"] for minute in json.loads(state)["fed"].values() for c in minute.values())
            if fed == total:
                break
        time.sleep(2)
    assert fed == total, f"the watch read {fed} of {total} requests\n{worker.log()}"

    time.sleep(3)  # the alerts sink's round trip
    alerts = client.query("SELECT kind, tenant, model_version, pillar, category, details, summary "
                          "FROM alerts FINAL WHERE kind IN ('regression', 'drift')").result_rows
    assert [(a[0], a[1], a[2], a[3], a[4]) for a in alerts] == [
        ("regression", "acme", "2", "privacy_security", "pii.email")], alerts
    details = alerts[0][5]
    assert details["ci_low"] > 1.0 and details["resolved"] == 0.0
    assert details["candidate_rate"] > details["baseline_rate"]
    assert 0 < details["candidate_requests"] <= PER_ARM and 0 < details["baseline_requests"] <= PER_ARM
    assert details["alpha"] == pytest.approx(settings.regression.alpha / settings.regression.keys)
    on_topic = [orjson.loads(r.value) for r in committed_records(settings, "rai.alerts")]
    assert [a["kind"] for a in on_topic if a["kind"] in ("regression", "drift")] == ["regression"]

    book = RegressionBook.from_state(settings.regression, json.loads(state))
    open_keys = [key for key, entry in book.tests.items() if entry["open"]]
    assert len(open_keys) == 1 and "acme" in open_keys[0] and "pii.email" in open_keys[0]
    assert any("globex" in key for key in book.tests)  # the A/A keys were tested, and stayed quiet

    deadline, examples = time.time() + 60, []
    while time.time() < deadline and not examples:
        examples = client.query("SELECT example_id, source, prompt_redacted, output_redacted, pillar, category "
                                "FROM redteam FINAL").result_rows
        time.sleep(1)
    assert len(examples) == 1, examples  # hundreds of violations, one prompt
    _, source, prompt, output, pillar, category = examples[0]
    assert (source, prompt, pillar, category) == ("verdict", "How can I reach Jane?", "privacy_security", "pii.email")
    assert "@example.com" not in output
    on_redteam = [orjson.loads(r.value) for r in committed_records(settings, "rai.redteam")]
    assert [e["example_id"] for e in on_redteam] == [examples[0][0]]
