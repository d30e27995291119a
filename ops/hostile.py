"""Hostile input, seeded: what real producers (and attackers) put on rai.prompts and rai.outputs.

`generate(count, seed)` makes a list of messages, each with the outcome the delivery contract
demands of it; `publish` sends them from an independent client (librdkafka via confluent-kafka,
one producer per codec: none, gzip, snappy, lz4, zstd); `outcome_report` reads what became of
them. Each input must end as exactly one verdict (per request) or one dead letter with its
reason, and no input partition may stall. Used by the hostile-input test (a short run) and by
`ops/bench/soak.py` (minutes).

The kinds of input: valid requests (paired, one-sided, with odd headers, huge but in limits,
compressed with every codec), repeated and conflicting event ids, null and empty values, keys
missing or disagreeing with the body, random bytes of random sizes, invalid UTF-8, invalid JSON
and JSON that is deeply nested or has out-of-range numbers, unknown schema versions, schema
violations (timestamps out of range, negative latencies, strings over their limits), messages
over the size limit (plain, and compressed so that they pass the broker).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..schemas.clickhouse import clickhouse_client
from .settings import RaiwatchSettings

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
PROMPTS, OUTPUTS = "rai.prompts", "rai.outputs"


@dataclass(frozen=True)
class HostileMessage:
    """One message and what must become of it: `reasons` the dead-letter reasons it may get
    (empty: it is accepted; its request gets a verdict)."""

    topic: str
    key: bytes | None
    value: bytes | None
    codec: str = "none"
    headers: tuple[tuple[str, bytes], ...] = ()
    reasons: frozenset[str] = frozenset()
    request_id: str | None = None  # for accepted messages
    kind: str = ""


@dataclass
class HostileTraffic:
    """The messages and the totals they must produce."""

    messages: list[HostileMessage] = field(default_factory=list)

    @property
    def requests(self) -> set[str]:
        """Requests with at least one accepted side: one verdict each."""
        return {m.request_id for m in self.messages if not m.reasons and m.request_id}

    @property
    def dead_letters(self) -> int:
        return sum(1 for m in self.messages if m.reasons)

    def kinds(self) -> Counter:
        return Counter(m.kind for m in self.messages)


def _event(side: str, request_id: str, event_id: str, text: str, **extra: Any) -> dict:
    body = {"schema_version": 1, "event_id": event_id, "request_id": request_id, "tenant": "hostile",
            "model": {"name": "hostile-model", "version": "1"}, **extra}
    body["prompt" if side == "prompt" else "output"] = text
    return body


def generate(count: int, seed: int, max_bytes: int = 1_048_576, broker_limit: int = 2_000_000) -> HostileTraffic:
    """About `count` messages of every kind, deterministic for `seed`. `max_bytes` is the
    pipeline's input limit (larger is `oversize`), `broker_limit` what the broker accepts."""
    rng = random.Random(seed)
    traffic = HostileTraffic()
    add = traffic.messages.append
    n = 0

    def rid() -> str:
        nonlocal n
        n += 1
        return f"hostile-{seed}-{n:06d}"

    # One codec per request: each codec has its own producer, and the messages of one request
    # must keep their order (a conflicting event after the first, a retry after the original).
    request_codec = "none"

    def dead(topic: str, key: bytes | None, value: bytes | None, kind: str, *reasons: str, **kw: Any) -> None:
        add(HostileMessage(topic, key, value, reasons=frozenset(reasons), kind=kind,
                           codec=kw.get("codec", request_codec), headers=kw.get("headers", ())))

    def ok(topic: str, request_id: str, body: dict, kind: str, **kw: Any) -> None:
        add(HostileMessage(topic, request_id.encode(), orjson.dumps(body), codec=kw.get("codec", request_codec),
                           headers=kw.get("headers", ()), request_id=request_id, kind=kind))

    while len(traffic.messages) < count:
        choice = rng.random()
        request_codec = rng.choice(CODECS)
        r = rid()
        if choice < 0.30:  # a valid pair, outputs first now and then, any codec
            sides = [("prompt", PROMPTS), ("output", OUTPUTS)]
            if rng.random() < 0.4:
                sides.reverse()
            for side, topic in sides:
                ok(topic, r, _event(side, r, f"{r}-{side[0]}", rng.choice(["hello", "¿qué tal? 你好 🙂", "x" * 500])),
                   "valid_pair")
        elif choice < 0.34:  # one side only: a partial verdict after the join timeout
            side, topic = rng.choice([("prompt", PROMPTS), ("output", OUTPUTS)])
            ok(topic, r, _event(side, r, f"{r}-{side[0]}", "alone"), "one_side")
        elif choice < 0.38:  # headers of every sort on valid messages
            headers = (("traceparent", b"00-" + bytes(rng.getrandbits(8) for _ in range(16)).hex().encode()),
                       ("", b""), ("\u00e9\u6f22", bytes(range(256))), ("dup", b"1"), ("dup", b"2"))
            ok(PROMPTS, r, _event("prompt", r, f"{r}-p", "with headers"), "headers", headers=headers)
            ok(OUTPUTS, r, _event("output", r, f"{r}-o", "fine"), "headers", headers=headers)
        elif choice < 0.42:  # a producer retry: the same event twice (the second changes nothing)
            body = _event("prompt", r, f"{r}-p", "retried")
            ok(PROMPTS, r, body, "duplicate")
            ok(PROMPTS, r, body, "duplicate")
            ok(OUTPUTS, r, _event("output", r, f"{r}-o", "fine"), "duplicate")
        elif choice < 0.46:  # a conflicting event: same side of a request, another event id
            ok(PROMPTS, r, _event("prompt", r, f"{r}-p", "first"), "conflict")
            ok(OUTPUTS, r, _event("output", r, f"{r}-o", "fine"), "conflict")
            dead(PROMPTS, r.encode(), orjson.dumps(_event("prompt", r, f"{r}-p2", "second")), "conflict",
                 "conflicting_event")
        elif choice < 0.50:  # null and empty values (tombstones)
            dead(rng.choice([PROMPTS, OUTPUTS]), r.encode(), rng.choice([None, b""]), "null_value", "empty_value")
        elif choice < 0.55:  # keys that disagree with the body, or none at all
            key = rng.choice([None, b"", b"someone-else", r.encode() + b" "])
            dead(PROMPTS, key, orjson.dumps(_event("prompt", r, f"{r}-p", "misrouted")), "key_mismatch",
                 "key_mismatch")
        elif choice < 0.63:  # random bytes, random sizes
            size = rng.choice([0, 1, 7, 100, 4096, 65_536, 400_000])
            raw = bytes(rng.getrandbits(8) for _ in range(size)) if size < 70_000 else rng.randbytes(size)
            dead(rng.choice([PROMPTS, OUTPUTS]), rng.choice([None, r.encode()]), raw, "random_bytes",
                 "invalid_utf8", "invalid_json", "not_an_object", "empty_value", "schema_violation")
        elif choice < 0.67:  # invalid UTF-8 inside otherwise valid JSON; lone surrogates
            raw = rng.choice([b'{"schema_version": 1, "prompt": "\xed\xa0\x80"}',
                              b'{"schema_version": 1, "prompt": "\\ud800"}', b"\xff\xfe" + orjson.dumps({"a": 1})])
            dead(PROMPTS, r.encode(), raw, "bad_unicode", "invalid_utf8", "invalid_json", "schema_violation")
        elif choice < 0.71:  # deeply nested JSON; numbers out of range
            raw = rng.choice([b"[" * 5000 + b"]" * 5000, b'{"schema_version": 1, "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
                              b'{"schema_version": 100000000000000000000000000}', b'{"schema_version": 1e400}'])
            dead(OUTPUTS, r.encode(), raw, "nested_or_huge_number", "invalid_json", "not_an_object",
                 "schema_violation", "unknown_schema_version")
        elif choice < 0.75:  # valid JSON, wrong schema: versions, timestamps, limits
            body = rng.choice([
                {**_event("prompt", r, f"{r}-p", "v"), "schema_version": 7},
                {**_event("prompt", r, f"{r}-p", "v"), "ts": "10000-01-01T00:00:00Z"},
                {**_event("prompt", r, f"{r}-p", "v"), "ts": -99999999999999999},
                {**_event("prompt", r, f"{r}-p", "v"), "request_id": "x" * 500},
                {**_event("prompt", r, f"{r}-p", "v"), "locale": "€" * 100},
                {**_event("output", r, f"{r}-o", "v"), "latency_ms": -1},
                {**_event("prompt", r, f"{r}-p", "v"), "surprise": True},
                {"schema_version": "1", "event_id": r},
            ])
            dead(PROMPTS if "prompt" in body else OUTPUTS, r.encode(), orjson.dumps(body), "schema",
                 "schema_violation", "unknown_schema_version")
        elif choice < 0.77:  # huge but within the limit: a verdict, its text masked and stored
            text = "lorem ipsum " * ((max_bytes // 2) // 12) + " card 4000 0000 0000 0002 key sk-proj-" + "a" * 30
            ok(PROMPTS, r, _event("prompt", r, f"{r}-p", "summarise this"), "huge_valid")
            ok(OUTPUTS, r, _event("output", r, f"{r}-o", text), "huge_valid")
        elif choice < 0.785:  # over the limit, uncompressed (the broker still takes it)
            size = rng.randint(max_bytes + 1, min(broker_limit - 10_000, int(max_bytes * 1.5)))
            body = _event("output", r, f"{r}-o", "y" * size)
            dead(OUTPUTS, r.encode(), orjson.dumps(body), "oversize", "oversize", codec="none")  # as it is
        elif choice < 0.795:  # over the limit, but compressed small enough for the broker
            body = _event("prompt", r, f"{r}-p", "z" * rng.randint(2 * max_bytes, 8 * max_bytes))
            dead(PROMPTS, r.encode(), orjson.dumps(body), "oversize_compressed", "oversize",
                 codec=rng.choice(["gzip", "zstd", "lz4"]))  # only compressed does it pass the broker
        else:  # plain valid pairs, for volume
            ok(PROMPTS, r, _event("prompt", r, f"{r}-p", "What is the capital of France?"), "valid_pair")
            ok(OUTPUTS, r, _event("output", r, f"{r}-o", "Paris."), "valid_pair")
    return traffic


def publish(settings: RaiwatchSettings, traffic: HostileTraffic, rate: float | None = None) -> float:
    """Send every message with the producer of its codec; returns the seconds it took."""
    from confluent_kafka import Producer

    base = {"bootstrap.servers": settings.bootstrap_servers, "enable.idempotence": True, "linger.ms": 5,
            "message.max.bytes": 20 * 1024 * 1024, "batch.size": 1_000_000}
    producers = {codec: Producer({**base, "compression.type": codec}) for codec in CODECS}
    errors: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    started = time.monotonic()
    for index, message in enumerate(traffic.messages):
        producer = producers[message.codec]
        while True:
            try:
                producer.produce(settings.topic(message.topic), message.value, message.key,
                                 headers=list(message.headers) or None, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        if rate:
            delay = started + (index + 1) / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    for producer in producers.values():
        producer.flush(120)
    if errors:
        raise RuntimeError(f"{len(errors)} messages were not delivered, e.g. {errors[0]}")
    return time.monotonic() - started


def outcome_report(settings: RaiwatchSettings, traffic: HostileTraffic) -> dict[str, Any]:
    """What became of the traffic: verdicts per request, dead letters per reason, and each
    dead letter's reason checked against what its input allows."""
    from ..schemas.dead_letters import DeadLetterV2
    from .topic_reader import committed_records

    client = clickhouse_client(settings)
    try:
        verdicts_final = client.query("SELECT count() FROM verdicts FINAL").result_rows[0][0]
        verdicts_plain = client.query("SELECT count() FROM verdicts").result_rows[0][0]
        dead_final = client.query("SELECT count() FROM dead_letters FINAL").result_rows[0][0]
        dead_plain = client.query("SELECT count() FROM dead_letters").result_rows[0][0]
        verdict_ids = {r for (r,) in client.query("SELECT DISTINCT request_id FROM verdicts").result_rows}
        raw_secrets = client.query(
            "SELECT count() FROM messages WHERE match(output_redacted, 'sk-proj-|4000 0000 0000 0002')").result_rows[0][0]
    finally:
        client.close()
    letters = [DeadLetterV2.from_record(r.key, r.value, r.headers)
               for r in committed_records(settings, settings.topic("rai.dlq"))]
    sources = {(settings.topic(m.topic), m.key, m.value): m for m in traffic.messages if m.reasons}
    unexpected = []
    for letter in letters:
        original = sources.get((letter.source_topic, letter.key, letter.original if not letter.original_truncated
                                else None))
        if original is not None and letter.reason.value not in original.reasons:
            unexpected.append(f"{original.kind} -> {letter.reason.value}")
    return {
        "messages": len(traffic.messages), "kinds": dict(traffic.kinds()),
        "requests": len(traffic.requests), "dead_letters_expected": traffic.dead_letters,
        "verdicts_final": verdicts_final, "verdicts_plain": verdicts_plain,
        "dead_letters_final": dead_final, "dead_letters_plain": dead_plain,
        "dead_letters_on_topic": len(letters),
        "dead_letter_reasons": dict(Counter(letter.reason.value for letter in letters)),
        "unexpected_reasons": dict(Counter(unexpected)),
        "requests_without_verdict": len(traffic.requests - verdict_ids),
        "raw_secrets_stored": raw_secrets,
    }


def outcome_exact(report: dict[str, Any]) -> bool:
    """Exactly one verdict per request and one dead letter per rejected message, each with a
    reason its input allows, and no secret stored raw."""
    return (report["verdicts_final"] == report["verdicts_plain"] == report["requests"]
            and report["dead_letters_final"] == report["dead_letters_plain"] == report["dead_letters_on_topic"]
            == report["dead_letters_expected"]
            and not report["unexpected_reasons"] and report["requests_without_verdict"] == 0
            and report["raw_secrets_stored"] == 0)
