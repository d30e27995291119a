"""Policies as code on the real broker and ClickHouse: `raiwatch policy apply` reaches a running
worker without a restart (later verdicts carry the new version and its findings' attribution),
and a kill -9 while a policy changes still leaves exactly one verdict per request."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from raiwatch.ops.pipeline_run import Counts, counts, wait_for_counts
from raiwatch.ops.policies import apply_policies
from raiwatch.streams.policy_files import default_policy_dir

from .pipeline_helpers import (
    assert_exact_without_final, assert_exactly_once_on_topics, committed_records, replay_file,
    write_traffic_file,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(fresh_settings):
    return fresh_settings.replace(join__timeout_s=3.0)




def policy_folder(tmp_path: Path, over_refusal_version: int, severity: str = "low") -> Path:
    """The default set with the over-refusal policy at `over_refusal_version`."""
    folder = tmp_path / f"policies-v{over_refusal_version}"
    shutil.copytree(default_policy_dir(), folder, dirs_exist_ok=True)
    path = folder / "controllability.over-refusal.yaml"
    text = path.read_text().replace("version: 1", f"version: {over_refusal_version}")
    path.write_text(text.replace("severity: low", f"severity: {severity}"))
    return folder


def send_refusals(settings, tmp_path: Path, first: int, count: int) -> None:
    """`count` benign prompts answered with a refusal (over-refusals), ids first..first+count-1."""
    lines = []
    for i in range(first, first + count):
        rid = f"refused-{i}"
        lines += [{"topic": "rai.prompts", "value": {"schema_version": 1, "event_id": f"{rid}-p", "request_id": rid,
                                                     "model": {"name": "m"}, "prompt": "How do I bake bread?"}},
                  {"topic": "rai.outputs", "value": {"schema_version": 1, "event_id": f"{rid}-o", "request_id": rid,
                                                     "model": {"name": "m"},
                                                     "output": "I'm sorry, but I can't help with that."}}]
    path = tmp_path / f"refusals-{first}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    replay_file(settings, path)


def verdicts_by_request(settings) -> dict[str, dict]:
    return {v["request_id"]: v for v in (orjson.loads(r.value) for r in committed_records(settings, "rai.verdicts"))}


def test_an_applied_version_reaches_the_running_worker(settings, worker, tmp_path: Path) -> None:
    send_refusals(settings, tmp_path, 0, 5)
    wait_for_counts(settings, 5, 0, 90, worker=worker.proc)
    before = verdicts_by_request(settings)["refused-0"]
    assert "controllability.over-refusal@1" in before["policies"] and before["over_refusal"]
    assert {b for c in before["checks"] for b in c["breaks"]} == {"controllability.over-refusal",
                                                               "explainability.refusal-reasons"}

    applied = apply_policies(settings, policy_folder(tmp_path, 2, severity="medium"))
    assert len(applied) == 12  # the whole set is new on rai.policies; only the changed one triggers
    assert {(a.policy.policy_id, a.policy.version) for a in applied} >= {("controllability.over-refusal", 2)}
    applied_at = time.time()
    sent, first_new = 5, None
    while first_new is None and time.time() - applied_at < 60:  # a request every 200 ms until one is judged under v2
        send_refusals(settings, tmp_path, sent, 1)
        sent += 1
        wait_for_counts(settings, sent, 0, 60, worker=worker.proc, settle_s=0)
        verdicts = verdicts_by_request(settings)
        new = [v for v in verdicts.values() if "controllability.over-refusal@2" in v["policies"]]
        if new:
            first_new = min(new, key=lambda v: v["input_published_ms"])
        time.sleep(0.2)
    assert first_new is not None, worker.log()
    propagation_s = first_new["input_published_ms"] / 1000 - applied_at
    print(f"policy propagation: first request judged under the new version was published {propagation_s:.2f} s "
          "after apply returned")
    assert propagation_s < 30
    assert first_new["verdict_id"] != before["verdict_id"]
    assert first_new["policy_version"] == before["policy_version"] + 1  # the set's generation
    assert apply_policies(settings, policy_folder(tmp_path, 2, severity="medium")) == []  # idempotent
    assert worker.proc.poll() is None and worker.starts == 1  # no restart


def test_kill_9_while_a_policy_changes_leaves_one_verdict_per_request(settings, worker, tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=1500, malformed=20, seed=31)
    publisher = threading.Thread(target=replay_file, args=(settings, traffic, 300.0))
    publisher.start()
    deadline = time.time() + 120  # some verdicts under v1 first, however long the worker takes to start
    while counts(settings).verdicts < 100 and time.time() < deadline:
        time.sleep(0.2)
    apply_policies(settings, policy_folder(tmp_path, 2))
    time.sleep(1)
    worker.kill9()
    worker.start()
    time.sleep(3)
    apply_policies(settings, policy_folder(tmp_path, 3))
    publisher.join()
    got = wait_for_counts(settings, stats["requests"], stats["malformed"], 240, worker=worker.proc)
    assert got == Counts(stats["requests"], stats["malformed"]), (got, worker.log())
    assert_exact_without_final(settings, stats["requests"], stats["malformed"])
    assert_exactly_once_on_topics(settings, stats["requests"], stats["malformed"])
    versions = Counter(next(p for p in v["policies"] if p.startswith("controllability."))
                       for v in verdicts_by_request(settings).values())
    assert len(versions) >= 2, versions  # the change happened mid-stream


def test_a_regulation_becomes_a_proposal_whose_approval_goes_live(settings, worker, tmp_path: Path) -> None:
    """EU AI Act Art. 86 (real text: the right to explanation) -> the explainability policy's
    proposal in ClickHouse -> approved -> the new version judges the next requests in the
    running worker; the same article again proposes nothing."""
    import asyncio

    from raiwatch.ops.publish import publish_events
    from raiwatch.ops.policies import decide_proposal, proposal_rows
    from raiwatch.ops.regulation_source import articles, regulation_event

    def publish_article_86() -> None:
        events = [regulation_event(a) for a in articles("eu-ai-act", [86])]
        asyncio.run(publish_events(settings, "rai.regulations", [(e.event_id, e) for e in events]))

    publish_article_86()
    deadline, rows = time.time() + 120, []
    while not rows and time.time() < deadline:
        time.sleep(1)
        rows = proposal_rows(settings)
    assert len(rows) == 1, worker.log()
    (row,) = rows
    assert row["reference"] == "EU AI Act Art. 86" and row["pillars"][0] == "explainability"
    assert row["policy_id"] == "explainability.refusal-reasons" and (row["from_version"], row["to_version"]) == (1, 2)
    assert "+version: 2" in row["diff"] and "EU AI Act Art. 86" in row["diff"] and "+- review" in row["diff"]

    send_refusals(settings, tmp_path, 1000, 1)  # traffic of model "m", which the change asks to re-evaluate
    wait_for_counts(settings, 1, 0, 60, worker=worker.proc, settle_s=0)
    policy = decide_proposal(settings, row["proposal_id"], approve=True, by="test")
    assert (policy.policy_id, policy.version) == ("explainability.refusal-reasons", 2)
    assert proposal_rows(settings)[0]["status"] == "approved"
    with pytest.raises(Exception, match="already approved"):
        decide_proposal(settings, row["proposal_id"], approve=True, by="test")
    deadline, judged = time.time() + 60, None
    sent = 1
    while judged is None and time.time() < deadline:
        send_refusals(settings, tmp_path, sent, 1)
        sent += 1
        wait_for_counts(settings, sent, 0, 60, worker=worker.proc, settle_s=0)
        judged = next((v for v in verdicts_by_request(settings).values()
                       if "explainability.refusal-reasons@2" in v["policies"]), None)
    assert judged is not None, worker.log()
    # The change asked for one re-evaluation of the model in traffic, with its cause, once.
    cause = "policy:explainability.refusal-reasons@2"
    deadline, requests = time.time() + 60, []
    while not requests and time.time() < deadline:
        time.sleep(1)
        requests = [orjson.loads(r.value) for r in committed_records(settings, "rai.eval.requests")]
    assert [(r["cause"], r["model"]["name"]) for r in requests] == [(cause, "m")], requests
    assert requests[0]["suites"] == ["refusal_reasons"] and requests[0]["policy_versions"][
        "explainability.refusal-reasons"] == 2
    # The same article again proposes nothing: the live policy already cites it.
    publish_article_86()
    time.sleep(5)
    assert len(proposal_rows(settings)) == 1
    assert len(committed_records(settings, "rai.eval.requests")) == 1
    from raiwatch.schemas.clickhouse import clickhouse_client

    log = clickhouse_client(settings).query("SELECT cause, kind, status FROM triggers FINAL").result_rows
    assert log == [(cause, "eval", "emitted")]
