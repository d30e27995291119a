"""The decoder turns any bytes into an event or a precise DLQ reason, and never raises."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raiwatch.schemas import DeadLetterReason, DecodeFailure, decode, topic_spec
from raiwatch.schemas.common import ModelRef
from raiwatch.schemas.traffic import OutputEventV1, PromptEventV1

PROMPTS = topic_spec("rai.prompts")
OUTPUTS = topic_spec("rai.outputs")

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_scalars = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)

prompt_events = st.builds(
    PromptEventV1,
    event_id=st.text(min_size=1, max_size=50),
    request_id=st.text(min_size=1, max_size=50),
    tenant=st.text(max_size=20),
    model=st.builds(ModelRef, name=st.text(min_size=1, max_size=20), version=st.text(max_size=10)),
    prompt=st.text(max_size=300),
    metadata=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = decode(raw, PROMPTS)
    assert isinstance(result, (PromptEventV1, DecodeFailure))


@given(prompt_events)
def test_valid_events_round_trip(event: PromptEventV1) -> None:
    assert decode(event.model_dump_json().encode(), PROMPTS) == event


@given(st.binary(min_size=1, max_size=50))
def test_invalid_utf8_is_named(prefix: bytes) -> None:
    raw = prefix + b"\xff\xfe" + b'{"a": 1}'
    assert decode(raw, PROMPTS).reason is DeadLetterReason.INVALID_UTF8


@given(st.text(min_size=1, max_size=100).filter(lambda t: _not_json(t)))
def test_invalid_json_is_named(text: str) -> None:
    result = decode(text.encode(), PROMPTS)
    assert isinstance(result, DecodeFailure) and result.reason is DeadLetterReason.INVALID_JSON


@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_non_objects_are_named(value: object) -> None:
    result = decode(orjson.dumps(value), PROMPTS)
    assert result.reason is DeadLetterReason.NOT_AN_OBJECT


@given(INT64.filter(lambda v: v != 1))
def test_unknown_version_is_named(version: int) -> None:
    result = decode(orjson.dumps({"schema_version": version, "event_id": "e"}), OUTPUTS)
    assert result.reason is DeadLetterReason.UNKNOWN_SCHEMA_VERSION
    assert str(version) in result.detail


@given(prompt_events, st.sampled_from(["request_id", "model", "prompt", "event_id"]))
def test_missing_field_gives_its_path(event: PromptEventV1, field: str) -> None:
    payload = orjson.loads(event.model_dump_json())
    del payload[field]
    result = decode(orjson.dumps(payload), PROMPTS)
    assert result.reason is DeadLetterReason.SCHEMA_VIOLATION
    assert result.detail.startswith(f"{field}: ")


def test_nested_field_path_and_wrong_type() -> None:
    payload = {"schema_version": 1, "event_id": "e", "request_id": "r", "model": {"version": "x"}, "prompt": 5}
    detail = decode(orjson.dumps(payload), PROMPTS).detail
    assert "model.name: Field required" in detail
    assert "prompt: Input should be a valid string" in detail


def test_extra_fields_and_missing_version_are_violations() -> None:
    assert decode(b'{"event_id": "e"}', PROMPTS).reason is DeadLetterReason.SCHEMA_VIOLATION
    good = orjson.loads(PromptEventV1(event_id="e", request_id="r", model=ModelRef(name="m"), prompt="p").model_dump_json())
    result = decode(orjson.dumps({**good, "surprise": 1}), PROMPTS)
    assert result.reason is DeadLetterReason.SCHEMA_VIOLATION and "surprise" in result.detail


@pytest.mark.parametrize("limit", [10, 1000])
def test_oversize_is_checked_first(limit: int) -> None:
    result = decode(b"\xff" * (limit + 1), PROMPTS, max_bytes=limit)
    assert result.reason is DeadLetterReason.OVERSIZE


def test_a_null_or_empty_value_has_its_own_reason() -> None:
    for raw in (None, b""):
        result = decode(raw, PROMPTS)
        assert result.reason is DeadLetterReason.EMPTY_VALUE


def _not_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return True
    return False
