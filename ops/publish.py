"""Publishing events from the CLI (policies, regulation articles, incident reports): the
registry topics created if missing, an idempotent producer, every record acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..schemas.common import TopicEvent
from . import kafka_clients
from .settings import RaiwatchSettings
from .topics import create_topics


async def publish_events(settings: RaiwatchSettings, registry_topic: str,
                         keyed: Sequence[tuple[str, TopicEvent]]) -> None:
    """Each (key, event) as one record of `registry_topic`, in order, acknowledged by every
    in-sync replica before this returns."""
    await asyncio.to_thread(create_topics, settings)
    producer = kafka_clients.producer(settings, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        topic = settings.topic(registry_topic)
        sent = [await producer.send(topic, event.model_dump_json().encode(), key=key.encode()) for key, event in keyed]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
