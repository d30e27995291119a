"""Sinks: where a sink loop's rows go (a ClickHouse table, say), and how a sink says "not now".

A sink loop hands each batch's rows to its sinks at the checkpoint, before the batch's offsets
are committed (`checkpoint`). A sink that cannot take them raises `SinkBackpressure`: the loop
then rewinds the batch's partitions, pauses them for `retry_after` seconds and keeps polling
(so the consumer stays in its group however long the destination is away), and reads the batch
again once they resume. Nothing waits in memory but the batch at hand.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...ops.errors import RaiwatchError


@dataclass(frozen=True)
class SinkRow:
    """One row, with the Kafka record it came from (what makes writes idempotent)."""

    partition: int
    offset: int
    values: Sequence[Any]


class SinkBackpressure(RaiwatchError):
    """The destination refused a write; try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sink(ABC):
    """A destination fed from one input topic."""

    name: str
    topic: str  # the input topic its rows come from

    @abstractmethod
    async def write(self, rows: Sequence[SinkRow]) -> None:
        """Store `rows` and return once they are stored, or raise `SinkBackpressure`. Must be
        idempotent per source record: rows of a record already stored are not stored again."""

    def may_hold(self, partition: int, start: int, end: int) -> None:
        """Rows of records [start, end) of `partition` may already be stored (a previous owner
        wrote them and died before committing their offsets): check before writing them."""

    def committed(self, offsets: dict[int, int]) -> None:
        """The loop committed `offsets` (partition -> next offset) of this sink's topic: records
        below them are never read again."""

    async def close(self) -> None:
        """Release clients."""
