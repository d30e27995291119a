"""Applying a policy folder: validate against the live versions, publish what changed to the
compacted rai.policies (running workers use it from their next batch)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..schemas.policies import PolicyV2
from .errors import RaiwatchError
from .settings import RaiwatchSettings
from .publish import publish_events


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
    """Each policy as one record keyed by its id (stamped with the time it is published)."""
    await publish_events(settings, "rai.policies", [
        (p.policy_id, p.model_copy(update={"ts": datetime.now(UTC), "event_id": f"{p.policy_id}@{p.version}"}))
        for p in policies])


def proposal_rows(settings: RaiwatchSettings, proposal_id: str | None = None) -> list[dict]:
    """Proposals as ClickHouse holds them now (latest revision each), newest first."""
    from ..schemas.clickhouse import clickhouse_client

    query = ("SELECT proposal_id, status, event_time, regulation_id, reference, title, pillars, pillar_scores, "
             "policy_id, from_version, to_version, diff, proposed, decided_by FROM policy_proposals FINAL")
    parameters = {}
    if proposal_id is not None:
        query += " WHERE proposal_id = {id:String}"
        parameters["id"] = proposal_id
    result = clickhouse_client(settings).query(query + " ORDER BY event_time DESC", parameters=parameters)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def decide_proposal(settings: RaiwatchSettings, proposal_id: str, approve: bool, by: str) -> PolicyV2:
    """Approve (publish its policy) or reject an open proposal; the decision is recorded."""
    from ..schemas.clickhouse import clickhouse_client
    from ..streams.policy_proposals import PROPOSAL_COLUMNS, proposed_policy

    rows = proposal_rows(settings, proposal_id)
    if not rows:
        raise RaiwatchError(f"no proposal {proposal_id!r}; `raiwatch policy proposals` lists them")
    row = rows[0]
    if row["status"] != "open":
        raise RaiwatchError(f"proposal {proposal_id} is already {row['status']}")
    policy = proposed_policy(row)
    if approve:
        live = live_policies(settings)
        from ..streams.policy_reader import effective_policies

        current = effective_policies(live).get(policy.policy_id)
        if current is not None and current.version != row["from_version"]:
            raise RaiwatchError(f"proposal {proposal_id} changes {policy.policy_id}@{row['from_version']}, but "
                                f"version {current.version} is live now; reject it and let the feed propose again")
        from ..models.catalog import available_checks

        unknown = [c.check for c in policy.checks if c.check not in available_checks()]
        if unknown:
            raise RaiwatchError(f"proposal {proposal_id} names unknown checks: {', '.join(unknown)}")
        asyncio.run(publish_policies(settings, [policy]))
    decided = [row["proposal_id"], 2, datetime.now(UTC), "approved" if approve else "rejected", row["regulation_id"],
               row["reference"], row["title"], row["pillars"], row["pillar_scores"], row["policy_id"],
               row["from_version"], row["to_version"], row["diff"], row["proposed"], by]
    clickhouse_client(settings).insert("policy_proposals", [decided], column_names=PROPOSAL_COLUMNS)
    return policy
