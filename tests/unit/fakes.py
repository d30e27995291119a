"""Stand-ins for Kafka-facing objects in unit tests of logic that does not touch Kafka (the
real clients are exercised by the integration tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FakeRecord:
    """The fields of an aiokafka ConsumerRecord the stages read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    headers: tuple = ()


class RecordingCheckpoint:
    """Collects what a handler sends and the callbacks it registers."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.headers: list[tuple[str, bytes | None, Any]] = []  # (topic, key, headers)
        self.callbacks: list[Any] = []
        self.rows: list[tuple[Any, list[Any]]] = []

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None,
                   headers: Any = None) -> None:
        self.sent.append((topic, key, value))
        self.headers.append((topic, key, headers))

    def write(self, sink: Any, rows: list[Any]) -> None:
        self.rows.append((sink, rows))

    def after_commit(self, callback: Any) -> None:
        if callback is not None:
            self.callbacks.append(callback)

    def count_after_commit(self, instrument: str, amount: int, attributes: Any) -> None:
        pass

    def to(self, topic: str) -> list[bytes | None]:
        return [value for sent_topic, _, value in self.sent if sent_topic == topic]
