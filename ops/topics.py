"""Create and list the registry's topics on the broker (`raiwatch topics create | list`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..schemas.registry import TOPICS, TopicSpec
from .errors import StackError
from .settings import RaiwatchSettings


@dataclass(frozen=True)
class TopicState:
    """A registry topic as found on the broker."""

    name: str
    exists: bool
    partitions: int
    configs: dict[str, str]
    spec: TopicSpec

    @property
    def matches(self) -> bool:
        """Exists with the declared partition count and config values."""
        wanted = self.spec.configs()
        return (
            self.exists
            and self.partitions == self.spec.partitions
            and all(self.configs.get(k) == v for k, v in wanted.items())
        )


def create_topics(settings: RaiwatchSettings, extra: list[TopicSpec] = ()) -> list[str]:
    """Create every missing registry topic (plus `extra` specs, whose names are used as
    given); returns the names created (idempotent)."""
    wanted = [(settings.topic(s.name), s) for s in TOPICS.values()] + [(s.name, s) for s in extra]
    return asyncio.run(_create(settings, wanted))


def delete_prefixed_topics(settings: RaiwatchSettings) -> list[str]:
    """Delete every topic whose name starts with `settings.kafka.topic_prefix` (registry and
    internal ones): how a benchmark or test run cleans up after itself. Refuses an empty prefix,
    which would mean every topic on the broker."""
    if not settings.kafka.topic_prefix:
        raise ValueError("refusing to delete topics without a topic prefix")
    return asyncio.run(_delete_prefixed(settings))


async def _delete_prefixed(settings: RaiwatchSettings) -> list[str]:
    admin = await _admin(settings)
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.kafka.topic_prefix)]
        if names:
            await admin.delete_topics(names, timeout_ms=15000)
        return names
    finally:
        await admin.close()


def list_topics(settings: RaiwatchSettings) -> list[TopicState]:
    """Each registry topic with its live partition count and configs."""
    return asyncio.run(_describe(settings))


async def _admin(settings: RaiwatchSettings):
    from . import kafka_clients

    admin = kafka_clients.admin(settings, request_timeout_ms=15000)
    try:
        await admin.start()
    except Exception as exc:
        await admin.close()
        raise StackError(kafka_clients.describe_failure(settings, exc)) from None
    return admin


async def _create(settings: RaiwatchSettings, wanted: list[tuple[str, TopicSpec]]) -> list[str]:
    from aiokafka.admin import NewTopic

    admin = await _admin(settings)
    try:
        existing = set(await admin.list_topics())
        missing = [(name, s) for name, s in wanted if name not in existing]
        if not missing:
            return []
        new = [NewTopic(name, s.partitions, settings.kafka.topic_replication, topic_configs=s.configs())
               for name, s in missing]
        response = await admin.create_topics(new, timeout_ms=15000)
        for name, code, message in _topic_errors(response):
            if code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS (a concurrent `up`)
                raise StackError(f"creating topic {name} failed: error {code} {message or ''}")
        return [name for name, _ in missing]
    finally:
        await admin.close()


def _topic_errors(response) -> list[tuple[str, int, str | None]]:
    rows = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        rows.append((name, code, message))
    return rows


async def _describe(settings: RaiwatchSettings) -> list[TopicState]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = await _admin(settings)
    try:
        existing = set(await admin.list_topics())
        names = [settings.topic(s.name) for s in TOPICS.values() if settings.topic(s.name) in existing]
        partitions: dict[str, int] = {}
        configs: dict[str, dict[str, str]] = {}
        if names:
            for meta in await admin.describe_topics(names):
                partitions[meta["topic"]] = len(meta["partitions"])
            resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
            for response in await admin.describe_configs(resources):
                for resource in response.resources:
                    # (error_code, error_message, type, name, [(key, value, read_only, ...), ...])
                    configs[resource[3]] = {entry[0]: entry[1] for entry in resource[4]}
        return [
            TopicState(
                name=settings.topic(spec.name),
                exists=settings.topic(spec.name) in existing,
                partitions=partitions.get(settings.topic(spec.name), 0),
                configs=configs.get(settings.topic(spec.name), {}),
                spec=spec,
            )
            for spec in TOPICS.values()
        ]
    finally:
        await admin.close()


async def partition_ids(settings: RaiwatchSettings, topic: str) -> list[int]:
    """Partition numbers of `topic`, empty when it does not exist."""
    admin = await _admin(settings)
    try:
        if topic not in await admin.list_topics():
            return []
        (meta,) = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in meta["partitions"])
    finally:
        await admin.close()
