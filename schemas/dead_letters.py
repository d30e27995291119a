"""Dead letters: anything raiwatch could not process, with the original bytes and the reason."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Literal

from pydantic import Field

from .common import TopicEvent


class DeadLetterReason(StrEnum):
    """Why a message could not be processed. Stable codes: dashboards and alerts group by them."""

    OVERSIZE = "oversize"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
    SCHEMA_VIOLATION = "schema_violation"
    MISSING_COUNTERPART = "missing_counterpart"
    LATE_ARRIVAL = "late_arrival"
    CONFLICTING_EVENT = "conflicting_event"
    PROCESSING_ERROR = "processing_error"


class DeadLetterV1(TopicEvent):
    """One unprocessable message (topic rai.dlq). `original_b64` holds the exact bytes received."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    source_topic: str = Field(description="Topic the message came from.")
    source_partition: int = Field(default=-1, description="Partition, -1 when not from Kafka.")
    source_offset: int = Field(default=-1, description="Offset, -1 when not from Kafka.")
    key_b64: str = Field(default="", description="Original key bytes, base64.")
    original_b64: str = Field(description="Original value bytes, base64 (nothing is lost).")
    reason: DeadLetterReason = Field(description="Stable reason code.")
    detail: str = Field(description="Precise explanation, e.g. the failing field path.")
    stage: str = Field(default="decode", description="Pipeline stage that gave up on it.")

    def original(self) -> bytes:
        """The original message bytes."""
        return base64.b64decode(self.original_b64)
