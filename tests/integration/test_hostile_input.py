"""Hostile input from an independent producer (librdkafka via confluent-kafka) on the real broker
and ClickHouse: every codec is read, a message of any size ends as a dead letter without holding
its partition, no secret reaches storage raw, a held partition raises a stall alert, and a
seeded mix of everything hostile ends as exactly one verdict or one dead letter per input."""

from __future__ import annotations

import gzip
import time

import orjson
import pytest

from raiwatch.ops.chaos import lagging_partitions
from raiwatch.ops.hostile import generate, outcome_exact, outcome_report, publish
from raiwatch.ops.pipeline_run import Counts, wait_for_counts
from raiwatch.ops.topic_reader import committed_records
from raiwatch.schemas.alerts import AlertV1
from raiwatch.schemas.clickhouse import clickhouse_client
from raiwatch.schemas.dead_letters import DeadLetterV2

from .pipeline_helpers import WorkerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(fresh_settings):
    return fresh_settings.replace(join__timeout_s=3.0)




def event(side: str, request_id: str, text: str) -> bytes:
    return orjson.dumps({"schema_version": 1, "event_id": f"{request_id}-{side[0]}", "request_id": request_id,
                         "model": {"name": "m"}, side: text})


def produce(settings, messages: list[tuple], codec: str = "none") -> None:
    """(registry topic, key, value, partition or None) with one confluent-kafka producer."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "compression.type": codec,
                         "enable.idempotence": True, "message.max.bytes": 20 * 1024 * 1024})
    for topic, key, value, partition in messages:
        kwargs = {} if partition is None else {"partition": partition}
        producer.produce(settings.topic(topic), value, key, **kwargs)
    assert producer.flush(60) == 0


def dead_letters(settings) -> list[DeadLetterV2]:
    return [DeadLetterV2.from_record(r.key, r.value, r.headers)
            for r in committed_records(settings, settings.topic("rai.dlq"))]


def test_messages_over_the_old_dead_letter_limit_are_dead_lettered_and_their_partition_moves_on(settings, worker):
    big = event("prompt", "big-1", "y" * 1_200_000)  # over the limit, under the broker's
    huge = event("prompt", "huge-1", "z" * 6_000_000)  # compressed to a few kB: the broker takes it
    assert len(gzip.compress(huge)) < 1_000_000
    produce(settings, [("rai.prompts", b"big-1", big, 0)])
    produce(settings, [("rai.prompts", b"huge-1", huge, 0)], codec="gzip")
    # Records behind them on the same partition must still be processed.
    produce(settings, [("rai.prompts", b"after-1", event("prompt", "after-1", "hi"), 0),
                       ("rai.outputs", b"after-1", event("output", "after-1", "hello"), 0)])
    assert wait_for_counts(settings, 1, 2, 120, worker=worker.proc) == Counts(1, 2), worker.log()
    letters = {letter.key: letter for letter in dead_letters(settings)}
    assert {letter.reason.value for letter in letters.values()} == {"oversize"}
    assert letters[b"big-1"].original == big and not letters[b"big-1"].original_truncated
    assert letters[b"huge-1"].original_truncated and letters[b"huge-1"].original_size == len(huge)
    stored = clickhouse_client(settings).query(
        "SELECT original_size, length(original), original_truncated FROM dead_letters FINAL ORDER BY original_size"
    ).result_rows
    assert stored == [(len(big), len(big), 0), (len(huge), 256, 1)]


def test_every_codec_is_read_and_no_partition_waits_for_another(settings, worker):
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
    for codec in codecs:
        request = f"codec-{codec}"
        produce(settings, [("rai.prompts", request.encode(), event("prompt", request, "hi"), None),
                           ("rai.outputs", request.encode(), event("output", request, "hello"), None)], codec=codec)
    got = wait_for_counts(settings, len(codecs), 0, 120, worker=worker.proc)
    assert got == Counts(len(codecs), 0), worker.log()
    requests = {r for (r,) in clickhouse_client(settings).query("SELECT request_id FROM verdicts FINAL").result_rows}
    assert requests == {f"codec-{codec}" for codec in codecs}


SECRETS = [
    "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56", "sk-live-51HxYzAbCdEfGhIjKlMnOpQr", "AKIAIOSFODNN7EXAMPLE",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "4111 1111 1111 1112",  # card-like, fails the Luhn check
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3\n-----END RSA PRIVATE KEY-----",
]


def test_no_secret_or_card_like_number_is_stored_raw(settings, worker):
    messages = []
    for i, secret in enumerate(SECRETS):
        request = f"secret-{i}"
        messages += [("rai.prompts", request.encode(), event("prompt", request, f"my token is {secret}"), None),
                     ("rai.outputs", request.encode(), event("output", request, f"Use {secret} to log in."), None)]
    produce(settings, messages)
    assert wait_for_counts(settings, len(SECRETS), 0, 120, worker=worker.proc) == Counts(len(SECRETS), 0)
    stored = clickhouse_client(settings).query("SELECT prompt_redacted, output_redacted FROM messages FINAL").result_rows
    assert len(stored) == len(SECRETS)
    for prompt, output in stored:
        for secret in SECRETS:
            assert secret not in prompt and secret not in output
            assert secret.split("\n")[0] not in output


def test_a_held_partition_raises_a_stall_alert_naming_its_record(fresh_settings, tmp_path):
    settings = fresh_settings.replace(join__timeout_s=3.0, stages__stall_after_s=4.0)
    clickhouse_client(settings).command("DROP TABLE dead_letters SYNC")  # every dead-letter insert now fails
    worker = WorkerProcess(settings, tmp_path)
    worker.start()
    try:
        produce(settings, [("rai.prompts", b"bad-1", b"{not json", None)])
        deadline = time.monotonic() + 90
        stalls: list[AlertV1] = []
        while not stalls and time.monotonic() < deadline:
            time.sleep(2)
            alerts = [AlertV1.model_validate_json(r.value)
                      for r in committed_records(settings, settings.topic("rai.alerts"))]
            stalls = [a for a in alerts if a.kind == "stall"]
        assert stalls, worker.log()
        assert f"{settings.topic('rai.dlq')}[0]" in stalls[0].summary and "offset 0" in stalls[0].summary
        assert stalls[0].details["lag"] >= 1
        assert "the record holding it is at offset 0" in worker.log()
    finally:
        worker.stop()


def test_a_seeded_mix_of_hostile_input_ends_as_one_verdict_or_one_dead_letter_each(settings, worker):
    traffic = generate(1200, seed=5, max_bytes=settings.kafka.max_message_bytes)
    publish(settings, traffic)
    wait_for_counts(settings, len(traffic.requests), traffic.dead_letters, 300, worker=worker.proc)
    report = outcome_report(settings, traffic)
    assert outcome_exact(report), (report, worker.log())
    group = f"{settings.kafka.topic_prefix}{settings.stages.app_id}-join"
    assert lagging_partitions(settings, group, [settings.topic("rai.prompts"), settings.topic("rai.outputs")]) == {}
