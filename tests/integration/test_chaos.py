"""The delivery contract under rebalances, on the real broker and ClickHouse: three workers, an
independent producer (librdkafka through confluent-kafka, lz4-compressed, outputs often before
their prompts); mid-stream one worker is killed with SIGKILL and restarted after longer than a
rebalance, a fourth worker joins, and another is stopped with SIGTERM. Afterwards: exactly one
verdict per request and one dead letter per malformed message in ClickHouse (with and without
FINAL) and on the topics (read_committed), no request that had both sides marked partial, and
no input partition without progress for longer than the recovery bound."""

from __future__ import annotations

import time

import pytest

from raiwatch.ops.chaos import Expected, IndependentProducer, PartitionWatch, WorkerFleet, contract_holds, delivery_report
from raiwatch.ops.pipeline_run import wait_for_counts
from raiwatch.ops.traffic import generate

pytestmark = pytest.mark.integration

# A partition waits for its new owner at most: the dead member's session timeout (10 s), the
# broker aborting its open transaction (stages.transaction_timeout_s, 15 s, checked every 10 s by
# the broker), the restore; with the sampling, 60 s is the bound.
RECOVERY_BOUND_S = 60.0


def test_kill_add_and_stop_workers_mid_stream(fresh_settings, tmp_path) -> None:
    settings = fresh_settings.replace(join__timeout_s=10.0)
    envelopes = list(generate(2400, 24, seed=21))
    expected = Expected.of(envelopes)
    fleet = WorkerFleet(settings, tmp_path)
    watch = PartitionWatch(settings, f"{settings.kafka.topic_prefix}{settings.stages.app_id}-join",
                           [settings.topic("rai.prompts"), settings.topic("rai.outputs")])
    producer = IndependentProducer(settings, envelopes, rate=150.0)
    try:
        for worker_id in ("w0", "w1", "w2"):
            fleet.start(worker_id)
        time.sleep(5)
        watch.start()
        producer.start()
        time.sleep(8)
        fleet.kill9("w1")
        time.sleep(16)  # longer than a rebalance: the others take w1's partitions over
        fleet.start("w1")
        time.sleep(4)
        fleet.start("w3")  # a fourth worker joins mid-stream
        time.sleep(4)
        assert fleet.sigterm("w0") == 0, fleet.logs()
        producer.join(180)
        assert producer.error is None and producer.sent == len(envelopes), producer.error
        wait_for_counts(settings, len(expected.requests), expected.malformed, 240)
        report = delivery_report(settings, expected)
        stalls = watch.stop()
        assert contract_holds(report), (report, fleet.logs())
        assert max(stalls.values(), default=0.0) < RECOVERY_BOUND_S, (stalls, fleet.logs())
    finally:
        fleet.stop_all()
