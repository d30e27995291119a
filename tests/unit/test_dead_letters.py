"""Dead letters can always be built and always round-trip through their Kafka record (bytes as
the value, the rest as headers), whatever the input: any bytes, any size, any detail text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from raiwatch.schemas.dead_letters import (
    MAX_DETAIL_CHARS, MAX_ORIGINAL_BYTES, PREVIEW_BYTES, DeadLetterReason, DeadLetterV2,
)


@given(st.binary(max_size=500), st.text(max_size=6000), st.sampled_from(list(DeadLetterReason)),
       st.one_of(st.none(), st.binary(max_size=50)), st.integers(min_value=-1, max_value=2**40))
def test_any_input_builds_and_round_trips(raw: bytes, detail: str, reason: DeadLetterReason, key: bytes | None,
                                          offset: int) -> None:
    letter = DeadLetterV2.build(raw, reason, detail, "rai.prompts", partition=2, offset=offset, key=key)
    assert len(letter.detail) <= MAX_DETAIL_CHARS
    again = DeadLetterV2.from_record(*letter.to_record())
    assert again == letter
    assert again.original == raw and again.key == key and again.original_size == len(raw)


def test_an_original_over_the_limit_travels_as_a_preview_with_its_size_and_hash() -> None:
    import hashlib

    raw = bytes(range(256)) * (MAX_ORIGINAL_BYTES // 256 + 1)
    letter = DeadLetterV2.build(raw, DeadLetterReason.OVERSIZE, "too big", "rai.outputs", partition=0, offset=9)
    assert letter.original_truncated and letter.original == raw[:PREVIEW_BYTES]
    assert letter.original_size == len(raw) and letter.original_sha256 == hashlib.sha256(raw).hexdigest()
    key, value, headers = letter.to_record()
    assert len(value) == PREVIEW_BYTES and DeadLetterV2.from_record(key, value, headers).original_truncated


def test_a_1_2_mb_original_is_kept_whole() -> None:
    raw = b"x" * 1_200_000  # over the old JSON format's ~750 kB ceiling
    letter = DeadLetterV2.build(raw, DeadLetterReason.OVERSIZE, "1200000 bytes exceeds the limit", "rai.prompts",
                                partition=0, offset=1)
    assert not letter.original_truncated and DeadLetterV2.from_record(*letter.to_record()).original == raw


def test_ids_come_from_the_source_position_so_a_retry_dedups() -> None:
    a = DeadLetterV2.build(b"a", DeadLetterReason.INVALID_JSON, "x", "t", partition=1, offset=5)
    b = DeadLetterV2.build(b"a", DeadLetterReason.INVALID_JSON, "x", "t", partition=1, offset=5)
    c = DeadLetterV2.build(b"a", DeadLetterReason.INVALID_JSON, "x", "t", partition=1, offset=6)
    assert a.event_id == b.event_id != c.event_id


@settings(max_examples=50)
@given(st.binary(max_size=100), st.binary(max_size=100))
def test_ids_differ_by_content_when_not_from_kafka(a: bytes, b: bytes) -> None:
    first = DeadLetterV2.build(a, DeadLetterReason.INVALID_JSON, "x", "t").event_id
    second = DeadLetterV2.build(b, DeadLetterReason.INVALID_JSON, "x", "t").event_id
    assert (first == second) == (a == b)
