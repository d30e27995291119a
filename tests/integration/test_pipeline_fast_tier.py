"""The trained fast guardrail tier in the running pipeline: presidio + spaCy and the three
trained classifiers screen real traffic in the screen stage, every verdict names the checks
that produced it, and presidio's redaction is what reaches ClickHouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from raiwatch.ops.pipeline_run import Counts, wait_for_counts
from raiwatch.schemas.clickhouse import clickhouse_client

from .pipeline_helpers import WorkerProcess, replay_file, write_traffic_file

pytestmark = [pytest.mark.integration, pytest.mark.ml]

FAST_TIER = ["pii.presidio", "injection.classifier", "harm.classifier", "refusal.classifier"]


def test_trained_fast_tier_screens_the_pipeline(fresh_settings, guardrail_artifacts, tmp_path: Path) -> None:
    settings = fresh_settings.replace(screen__checks=FAST_TIER, join__timeout_s=3.0)
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=200, malformed=10, seed=43)
    worker = WorkerProcess(settings, tmp_path)
    worker.start()
    try:
        replay_file(settings, traffic)
        got = wait_for_counts(settings, stats["requests"], stats["malformed"], 300, worker=worker.proc)
        assert got == Counts(stats["requests"], stats["malformed"]), worker.log()
    finally:
        worker.stop()
    client = clickhouse_client(settings)
    produced_by = client.query(
        "SELECT DISTINCT arrayJoin(arrayConcat(mapKeys(scores), unscored)) FROM verdicts FINAL").result_rows
    assert {key.split("@")[0] for (key,) in produced_by} == set(FAST_TIER)
    categories = {c for (c,) in client.query("SELECT DISTINCT arrayJoin(categories) FROM verdicts FINAL").result_rows}
    assert any(c.startswith("pii.") for c in categories), categories
    assert "injection" in categories, categories
    assert any(c.startswith("S") for c in categories), categories  # a hazard category from harm.classifier
    assert client.query("SELECT countIf(over_refusal = 1) FROM verdicts FINAL").result_rows[0][0] > 0
    # The generated outputs carry a name, an e-mail address, a card number and an API key; none
    # reaches ClickHouse, and the name is masked, which only presidio's NER finds (the regex
    # fallback cannot). Their SSN, 123-45-6789, is a published sample number that presidio
    # rejects by design, so it is stored as is.
    leaks = client.query(
        "SELECT count() FROM messages FINAL WHERE position(output_redacted, 'John') > 0 "
        "OR position(output_redacted, 'john.doe@example.com') > 0 OR position(output_redacted, '4111 1111') > 0 "
        "OR position(output_redacted, 'sk-abcdefghij') > 0").result_rows[0][0]
    names_masked = client.query(
        "SELECT count() FROM messages FINAL WHERE position(output_redacted, '<PERSON> at <EMAIL>') > 0").result_rows[0][0]
    assert leaks == 0
    assert names_masked > 0
