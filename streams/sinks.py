"""Agents that land topics in ClickHouse: verdicts (+ redacted messages), dead letters, alerts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..schemas.decoder import DecodeFailure, decode
from ..schemas.registry import topic_spec
from .app import Pipeline
from .clickhouse_sink import (
    ALERT_COLUMNS, DEAD_LETTER_COLUMNS, MESSAGE_COLUMNS, VERDICT_COLUMNS, ClickHouseSink, alert_row,
    dead_letter_row, message_row, verdict_row,
)
from .dlq import send_dead_letter


def attach(pipeline: Pipeline) -> None:
    settings, app, topics = pipeline.settings, pipeline.app, pipeline.topics
    def sink_agent(name: str, topic_name: str, write: Callable[[ClickHouseSink, list[Any]], Any]) -> None:
        spec = topic_spec(topic_name)
        sink = ClickHouseSink(settings)  # one client per agent: a ClickHouse session is not concurrent

        async def agent(stream):
            async for events in stream.take_events(settings.sink_batch_size, within=settings.sink_batch_window_s):
                decoded, deliveries = [], []
                for event in events:
                    value = decode(event.message.value or b"", spec, settings.max_message_bytes)
                    if isinstance(value, DecodeFailure):
                        if topic_name == "rai.dlq":  # never loop: a broken DLQ record is stored as is
                            await sink.write("dead_letters", [_raw_dead_letter_row(event.message, value)], DEAD_LETTER_COLUMNS)
                        else:
                            deliveries.append(await send_dead_letter(topics["dlq"], event.message, value.reason, value.detail, f"sink:{name}"))
                        continue
                    decoded.append(value)
                await write(sink, decoded)
                for delivery in deliveries:
                    await delivery

        agent.__name__ = name
        app.agent(topics[topic_name.removeprefix("rai.")], name=name)(agent)

    async def write_verdicts(sink: ClickHouseSink, verdicts: list) -> None:
        await sink.write("verdicts", [verdict_row(v) for v in verdicts], VERDICT_COLUMNS)
        await sink.write("messages", [message_row(v) for v in verdicts], MESSAGE_COLUMNS)

    async def write_dead_letters(sink: ClickHouseSink, records: list) -> None:
        await sink.write("dead_letters", [dead_letter_row(d) for d in records], DEAD_LETTER_COLUMNS)

    async def write_alerts(sink: ClickHouseSink, alerts: list) -> None:
        await sink.write("alerts", [alert_row(a) for a in alerts], ALERT_COLUMNS)

    sink_agent("sink-verdicts", "rai.verdicts", write_verdicts)
    sink_agent("sink-dlq", "rai.dlq", write_dead_letters)
    sink_agent("sink-alerts", "rai.alerts", write_alerts)


def _raw_dead_letter_row(message: Any, failure: DecodeFailure) -> list[Any]:
    import hashlib
    from datetime import UTC, datetime

    identity = f"{message.topic}:{message.partition}:{message.offset}:sink".encode()
    return [hashlib.sha256(identity).hexdigest()[:32], datetime.fromtimestamp(message.timestamp or 0, UTC),
            message.topic, message.partition, message.offset, failure.reason.value, failure.detail, "sink:dlq",
            message.value or b""]
