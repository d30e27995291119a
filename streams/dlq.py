"""Sending unprocessable messages to rai.dlq; shared by every agent."""

from __future__ import annotations

from typing import Any

from ..schemas.dead_letters import DeadLetterReason
from ..schemas.decoder import DecodeFailure, dead_letter


async def send_dead_letter(
    dlq_topic: Any,
    message: Any,
    reason: DeadLetterReason,
    detail: str,
    stage: str,
) -> Any:
    """Publish a DLQ record for a Faust `message` (raw bytes) now; returns the delivery future.

    The record's id is derived from the source position, so re-processing after a crash
    produces the same id and the ClickHouse table keeps one row.
    """
    from datetime import UTC, datetime

    record = dead_letter(
        message.value if isinstance(message.value, bytes) else bytes(message.value or b""),
        DecodeFailure(reason, detail),
        message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        stage=stage,
    )
    # The source message's time, not now: the row must be identical on every retry.
    record = record.model_copy(update={"ts": datetime.fromtimestamp(message.timestamp or 0, UTC)})
    return await dlq_topic.send(key=None, value=record.model_dump_json().encode(), force=True)
