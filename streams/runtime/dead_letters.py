"""Dead letters for records a loop cannot process: built from the record, sent with the
checkpoint, never failing for the input's sake (see `schemas/dead_letters.py`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ...schemas.dead_letters import MAX_ORIGINAL_BYTES, DeadLetterReason, DeadLetterV2

log = logging.getLogger(__name__)

__all__ = ["MAX_ORIGINAL_BYTES", "dead_letter_for", "send_dead_letter", "undecodable_record"]


def dead_letter_for(record: Any, reason: DeadLetterReason, detail: str, stage: str) -> DeadLetterV2:
    """The dead letter of an aiokafka `record`: its bytes, key and position; its time is the
    record's, so processing it again after a crash yields the identical letter."""
    return DeadLetterV2.build(record.value or b"", reason, detail, record.topic, partition=record.partition,
                              offset=record.offset, key=record.key, stage=stage,
                              ts=datetime.fromtimestamp((record.timestamp or 0) / 1000, UTC))


def undecodable_record(topic: str, partition: int, offset: int, detail: str, stage: str) -> DeadLetterV2:
    """A record the client could not even decode: its position and the error, no bytes."""
    return DeadLetterV2.build(b"", DeadLetterReason.UNDECODABLE_RECORD, detail, topic, partition=partition,
                              offset=offset, stage=stage)


async def send_dead_letter(checkpoint: Any, topic: str, letter: DeadLetterV2) -> None:
    """Send `letter` with `checkpoint`; if the record is too large for the producer, send it
    with a preview of the original instead (size and SHA-256 still say what it was)."""
    from aiokafka.errors import MessageSizeTooLargeError

    key, value, headers = letter.to_record()
    checkpoint.count_after_commit("dead_letters", 1, {"raiwatch.reason": letter.reason.value,
                                                      "raiwatch.stage": letter.stage})
    try:
        await checkpoint.send(topic, value, key=key, headers=headers)
    except MessageSizeTooLargeError as exc:
        log.warning("dead letter of %s[%d]@%d too large to send whole (%s); sending a preview",
                    letter.source_topic, letter.source_partition, letter.source_offset, exc)
        key, value, headers = letter.preview_only().to_record()
        await checkpoint.send(topic, value, key=key, headers=headers)
