"""Dead letters for records the pipeline cannot process; shared by every loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..schemas.dead_letters import DeadLetterReason, DeadLetterV1
from ..schemas.decoder import DecodeFailure, dead_letter


def dead_letter_for(record: Any, reason: DeadLetterReason, detail: str, stage: str) -> DeadLetterV1:
    """The DLQ record for an aiokafka `record` (raw bytes, Kafka timestamp in ms).

    Its id derives from the source position and its time is the source record's, so processing
    the record again after a crash yields the identical row and ClickHouse keeps one.
    """
    letter = dead_letter(record.value or b"", DecodeFailure(reason, detail), record.topic,
                         partition=record.partition, offset=record.offset, key=record.key, stage=stage)
    return letter.model_copy(update={"ts": datetime.fromtimestamp((record.timestamp or 0) / 1000, UTC)})


def dead_letter_bytes(record: Any, reason: DeadLetterReason, detail: str, stage: str) -> bytes:
    """`dead_letter_for`, serialised for rai.dlq."""
    return dead_letter_for(record, reason, detail, stage).model_dump_json().encode()
