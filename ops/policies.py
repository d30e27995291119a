"""Applying a policy folder: validate against the live versions, publish what changed to the
compacted rai.policies (running workers use it from their next batch)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..schemas.policies import PolicyV2
from . import kafka_clients
from .errors import RaiwatchError
from .settings import RaiwatchSettings
from .topics import create_topics


@dataclass(frozen=True)
class Applied:
    """One policy published by `apply_policies`, and the live version it replaced (None: new)."""

    policy: PolicyV2
    was: PolicyV2 | None


def live_policies(settings: RaiwatchSettings) -> dict[str, PolicyV2]:
    """What rai.policies holds now (highest version per id); a clear error when Kafka cannot be read."""
    from ..streams.policy_reader import read_live_policies

    try:
        return asyncio.run(read_live_policies(settings))
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a Kafka traceback
        raise RaiwatchError(f"cannot read rai.policies from {settings.bootstrap_servers}: {exc}") from exc


def validate_policies(directory: Path, live: dict[str, PolicyV2] | None) -> list[PolicyV2]:
    """The folder's policies, validated against the installed checks (and `live`, when given)."""
    from ..models.catalog import available_checks
    from ..streams.policy_files import load_policies

    return load_policies(directory, available_checks(), live)


def apply_policies(settings: RaiwatchSettings, directory: Path) -> list[Applied]:
    """Validate `directory` against the live policies and publish each new or changed one."""
    from ..streams.policy_files import same_content

    live = live_policies(settings)
    changed = [Applied(p, live.get(p.policy_id)) for p in validate_policies(directory, live)
               if p.policy_id not in live or not same_content(p, live[p.policy_id])]
    if changed:
        asyncio.run(publish_policies(settings, [a.policy for a in changed]))
    return changed


async def publish_policies(settings: RaiwatchSettings, policies: list[PolicyV2]) -> None:
    """Each policy as one record keyed by its id, acknowledged by every in-sync replica."""
    await asyncio.to_thread(create_topics, settings)
    producer = kafka_clients.producer(settings, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        topic = settings.topic("rai.policies")
        for policy in policies:
            stamped = policy.model_copy(update={"ts": datetime.now(UTC), "event_id": f"{policy.policy_id}@{policy.version}"})
            await producer.send_and_wait(topic, stamped.model_dump_json().encode(), key=policy.policy_id.encode())
    finally:
        await producer.stop()
