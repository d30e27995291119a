"""Dead letters: anything raiwatch could not process, with the original bytes and the reason.

Wire format of rai.dlq (schema version 2): the Kafka record's **value is the original message
bytes**, its key the original key, and every other field travels as a header named
`raiwatch.dlq.<field>` (UTF-8 text). Bytes travel as bytes: a dead letter holds an original of
any size up to `MAX_ORIGINAL_BYTES`, and can always be built, whatever the input (version 1
carried the bytes base64-encoded in a JSON string with a length cap, so a message over ~750 kB
could not be dead-lettered and stalled its partition). An original larger than that, or one
that even so cannot be sent, travels as a preview (`original_truncated`), with its size and
SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field

from .common import TopicEvent

HEADER_PREFIX = "raiwatch.dlq."
MAX_ORIGINAL_BYTES = 4 * 1024 * 1024  # keep originals up to this size (rai.dlq's max.message.bytes leaves room)
PREVIEW_BYTES = 256
MAX_DETAIL_CHARS = 4000


class DeadLetterReason(StrEnum):
    """Why a message could not be processed. Stable codes: dashboards and alerts group by them."""

    OVERSIZE = "oversize"
    EMPTY_VALUE = "empty_value"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
    SCHEMA_VIOLATION = "schema_violation"
    KEY_MISMATCH = "key_mismatch"
    MISSING_COUNTERPART = "missing_counterpart"
    LATE_ARRIVAL = "late_arrival"
    CONFLICTING_EVENT = "conflicting_event"
    PROCESSING_ERROR = "processing_error"
    UNDECODABLE_RECORD = "undecodable_record"


class DeadLetterV2(TopicEvent):
    """One unprocessable message (topic rai.dlq). On the wire the Kafka record's value is the
    original bytes and its key the original key; every field below travels as a header named
    `raiwatch.dlq.<field>` (UTF-8 text)."""

    SCHEMA_VERSION: ClassVar[int] = 2

    schema_version: Literal[2] = Field(default=2, description="Schema version, always 2 here.")
    source_topic: str = Field(description="Topic the message came from.")
    source_partition: int = Field(default=-1, description="Partition, -1 when not from Kafka.")
    source_offset: int = Field(default=-1, description="Offset, -1 when not from Kafka.")
    reason: DeadLetterReason = Field(description="Stable reason code.")
    detail: str = Field(max_length=MAX_DETAIL_CHARS, description="Precise explanation, e.g. the failing field path.")
    stage: str = Field(default="decode", description="Pipeline stage that gave up on it.")
    original_size: int = Field(ge=0, description="Size of the original value in bytes.")
    original_sha256: str = Field(description="SHA-256 of the original value, hex.")
    original_truncated: bool = Field(default=False,
                                     description="The value holds only the first bytes of the original.")
    original: bytes = Field(default=b"", exclude=True,
                            description="The original value (on the wire: the record's value).")
    key: bytes | None = Field(default=None, exclude=True, description="The original key (on the wire: the record's key).")

    @classmethod
    def build(cls, original: bytes, reason: DeadLetterReason, detail: str, source_topic: str, *,
              partition: int = -1, offset: int = -1, key: bytes | None = None, stage: str = "decode",
              ts: datetime | None = None) -> DeadLetterV2:
        """A dead letter for `original`; never fails on the input's content. Its event id
        derives from the source position (or the bytes), so processing the input again after
        a crash yields the same id."""
        if offset >= 0:
            identity = f"{source_topic}:{partition}:{offset}:{stage}".encode()
        else:
            identity = source_topic.encode() + b"\0" + stage.encode() + b"\0" + original
        truncated = len(original) > MAX_ORIGINAL_BYTES
        return cls(
            event_id=hashlib.sha256(identity).hexdigest()[:32], ts=ts or datetime.now(UTC),
            source_topic=source_topic, source_partition=partition, source_offset=offset, reason=reason,
            detail=_clip(detail), stage=stage, original_size=len(original),
            original_sha256=hashlib.sha256(original).hexdigest(), original_truncated=truncated,
            original=original[:PREVIEW_BYTES] if truncated else original, key=key)

    def preview_only(self) -> DeadLetterV2:
        """The same letter with only a preview of the original (when the whole does not fit)."""
        return self.model_copy(update={"original": self.original[:PREVIEW_BYTES], "original_truncated": True})

    def to_record(self) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
        """Key, value and headers for rai.dlq."""
        headers = [(HEADER_PREFIX + name, _header_text(value).encode())
                   for name, value in self.model_dump(mode="json").items()]
        return self.key, self.original, headers

    @classmethod
    def from_record(cls, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> DeadLetterV2:
        """Read a rai.dlq record (the first header of each name counts)."""
        fields: dict[str, Any] = {}
        for name, raw in headers or ():
            if name.startswith(HEADER_PREFIX):
                fields.setdefault(name[len(HEADER_PREFIX):], raw.decode("utf-8", "replace"))
        for name in _INT_FIELDS & fields.keys():
            fields[name] = int(fields[name]) if fields[name].lstrip("-").isdigit() else fields[name]
        if "original_truncated" in fields:
            fields["original_truncated"] = fields["original_truncated"] == "true"
        return cls.model_validate({**fields, "original": value or b"", "key": key})


_INT_FIELDS = {"schema_version", "source_partition", "source_offset", "original_size"}


def _clip(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS - 1] + "…"


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
