"""The judge stage in the running pipeline: routed verdicts are rewritten under the same
verdict id at stage `judge` by a real LLM judge (SmolLM2 in process), nothing double-counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from raiwatch.models import model_store
from raiwatch.ops.pipeline_run import Counts, wait_for_counts
from raiwatch.schemas.clickhouse import clickhouse_client

from .pipeline_helpers import WorkerProcess, replay_file, write_traffic_file

pytestmark = [pytest.mark.integration, pytest.mark.ml]


def test_routed_verdicts_are_judged_in_place(fresh_settings, tmp_path: Path) -> None:
    model_store.install_smollm2()
    settings = fresh_settings.replace(join__timeout_s=3.0, judge__check="judge.safety",
                                      judge__sample_rates={"acme": 0.2})
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=80, malformed=0, seed=31)
    worker = WorkerProcess(settings, tmp_path)
    worker.start()
    try:
        replay_file(settings, traffic)
        wait_for_counts(settings, stats["requests"], 0, 180, worker=worker.proc)
        client = clickhouse_client(settings)
        judged = wait_until_stable(lambda: client.query(
            "SELECT count() FROM verdicts FINAL WHERE stage = 'judge'").result_rows[0][0], quiet_s=10, timeout_s=300)
        assert judged > 0, "no verdict reached the judge stage"
        got = wait_for_counts(settings, stats["requests"], 0, 60, worker=worker.proc)
        assert got == Counts(stats["requests"], 0), worker.log()
        rows = client.query("SELECT judge_score, unscored, mapKeys(scores) FROM verdicts FINAL "
                            "WHERE stage = 'judge'").result_rows
        # Scored, not merely recorded: an unscored judge row (a timeout, an unreadable answer)
        # fails the test; and the row names the judge with its backend and model.
        for judge_score, unscored, keys in rows:
            assert judge_score is not None and not [c for c in unscored if c.startswith("judge.")], (judge_score, unscored)
            assert any(k.startswith("judge.safety@rubric2{backend='transformers',model='smollm2-135m-instruct'")
                       for k in keys), keys
        # Every judged request is also the only row for its verdict id.
        dupes = client.query("SELECT count() FROM (SELECT verdict_id FROM verdicts FINAL GROUP BY verdict_id "
                             "HAVING count() > 1)").result_rows[0][0]
        assert dupes == 0
    finally:
        worker.stop()


def wait_until_stable(read, quiet_s: float, timeout_s: float) -> int:
    """Poll `read()` until it is non-zero and unchanged for `quiet_s` seconds."""
    import time

    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        value = read()
        if value != last:
            last, since = value, time.monotonic()
        elif value and time.monotonic() - since >= quiet_s:
            return value
        time.sleep(1)
    return last or 0
