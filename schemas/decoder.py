"""Raw Kafka bytes to a validated event, or to a dead letter that says precisely why not.

The decoder never raises on bad input: a stream processor that crashed on one poison message
would block its partition forever. Checks run cheapest first (size, UTF-8, JSON, version,
schema) so the reason is the first thing wrong with the message.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from .common import TopicEvent
from .dead_letters import DeadLetterReason
from .registry import TopicSpec

DEFAULT_MAX_BYTES = 1_048_576


@dataclass(frozen=True)
class DecodeFailure:
    """Why a message could not be decoded."""

    reason: DeadLetterReason
    detail: str


def decode(raw: bytes | None, spec: TopicSpec, max_bytes: int = DEFAULT_MAX_BYTES) -> TopicEvent | DecodeFailure:
    """Decode one message value for `spec`'s topic; bad input becomes a `DecodeFailure`."""
    if not raw:
        return DecodeFailure(DeadLetterReason.EMPTY_VALUE,
                             "the message has no value (null or empty): every event is a JSON object")
    if len(raw) > max_bytes:
        return DecodeFailure(DeadLetterReason.OVERSIZE, f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DecodeFailure(DeadLetterReason.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}: {exc.reason}")
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return DecodeFailure(DeadLetterReason.INVALID_JSON, f"invalid JSON: {exc}")
    if not isinstance(payload, dict):
        return DecodeFailure(
            DeadLetterReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(payload).__name__}"
        )
    version = payload.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        return DecodeFailure(
            DeadLetterReason.SCHEMA_VIOLATION, f"schema_version: required integer, got {version!r}"
        )
    model = spec.versions.get(version)
    if model is None:
        known = ", ".join(str(v) for v in sorted(spec.versions))
        return DecodeFailure(
            DeadLetterReason.UNKNOWN_SCHEMA_VERSION,
            f"schema_version {version} is not known for {spec.name} (known: {known})",
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        return DecodeFailure(DeadLetterReason.SCHEMA_VIOLATION, describe_validation_error(exc))


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """Field paths and messages, e.g. `model.name: Field required`; the first `limit` errors."""
    parts = []
    for error in exc.errors()[:limit]:
        path = ".".join(str(p) for p in error["loc"]) or "<root>"
        parts.append(f"{path}: {error['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"(+{more} more)")
    return "; ".join(parts)
