"""Publish a JSON-lines file to Kafka with an idempotent producer (`raiwatch replay`).

Two line formats:
- with `--topic T`: each line is one message value, sent byte for byte (malformed lines too:
  that is how the DLQ path is exercised);
- without: each line is an envelope `{"topic": ..., "key": ..., "value": {...} | "text"}` or
  with `"value_b64"` for bytes that are not valid UTF-8. Sample traffic files use this form,
  since a request's prompt and output go to different topics.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..schemas.registry import TOPICS
from .errors import ConfigurationError
from .settings import RaiwatchSettings


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to publish: logical topic name (registry name or raw), key, value bytes."""

    topic: str
    key: bytes | None
    value: bytes


@dataclass
class ReplayStats:
    """What a replay sent, per physical topic."""

    sent: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())


def read_messages(path: Path, topic: str | None) -> Iterator[OutgoingMessage]:
    """Messages of a replay file, in file order."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            if topic is not None:
                yield OutgoingMessage(topic, _key_of(topic, line), line)
            else:
                yield _from_envelope(line, path, number)


def _key_of(topic: str, value: bytes) -> bytes | None:
    spec = TOPICS.get(topic)
    if spec is None or spec.key_field is None:
        return None
    try:
        key = orjson.loads(value).get(spec.key_field)
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(key).encode() if key is not None else None


def envelope_message(envelope: dict) -> OutgoingMessage:
    """The message a replay envelope stands for: its value as bytes (`value_b64` for bytes that
    are not UTF-8, a string as it is, anything else as JSON), keyed as given or by the topic's
    key field."""
    topic = envelope["topic"]
    if "value_b64" in envelope:
        value = base64.b64decode(envelope["value_b64"])
    elif isinstance(envelope["value"], str):
        value = envelope["value"].encode()
    else:
        value = orjson.dumps(envelope["value"])
    key = envelope.get("key")
    return OutgoingMessage(topic, key.encode() if key else _key_of(topic, value), value)


def _from_envelope(line: bytes, path: Path, number: int) -> OutgoingMessage:
    try:
        return envelope_message(orjson.loads(line))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(
            f"{path}:{number}: not a replay envelope ({exc}); pass --topic to send lines verbatim"
        ) from None


def count_messages(path: Path) -> int:
    """Number of non-empty lines (for the progress bar)."""
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


async def replay(
    settings: RaiwatchSettings,
    path: Path,
    topic: str | None = None,
    rate: float | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> ReplayStats:
    """Publish every message of `path`; `rate` caps messages per second."""
    from . import kafka_clients

    if rate is not None and rate <= 0:
        raise ConfigurationError("--rate must be positive")
    producer = kafka_clients.producer(
        settings,
        enable_idempotence=True,  # broker drops duplicates from producer retries
        acks="all",
        linger_ms=5,
        max_request_size=settings.kafka.max_message_bytes * 2 + 1024,
    )
    await producer.start()
    stats = ReplayStats()
    started = time.monotonic()
    pending = []
    try:
        for index, message in enumerate(read_messages(path, topic)):
            if rate is not None:
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            physical = settings.topic(message.topic) if message.topic in TOPICS else message.topic
            pending.append(await producer.send(physical, message.value, key=message.key))
            stats.sent[physical] += 1
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                if on_sent:
                    on_sent(len(pending))
                pending.clear()
        await asyncio.gather(*pending)
        if on_sent and pending:
            on_sent(len(pending))
    finally:
        await producer.stop()
    stats.seconds = time.monotonic() - started
    return stats
