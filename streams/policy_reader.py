"""The worker's live policies: a `PolicyBook` that a `PolicyReader` keeps up to date from the
compacted rai.policies topic, so that a new version reaches running workers without a restart.

The book starts from the installed default set (schemas/policy_sets/default) and takes, per
policy id, the highest version the topic holds. Stages read `book.current` once per batch: a
batch is judged under one set from start to end, and a change applies from the next batch. A
batch that is re-read after a crash (its transaction aborted, its verdicts never visible) is
judged under the set in force then, so what is committed is still one verdict per request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import ValidationError

from ..ops.settings import RaiwatchSettings
from ..schemas.decoder import decode
from ..schemas.policies import PolicyV1, PolicyV2
from ..schemas.registry import topic_spec
from .policy_files import default_policy_dir, load_policies
from .policy_set import PolicySet
from .runtime.follower import TopicFollower

log = logging.getLogger(__name__)



def upgrade(policy: PolicyV1 | PolicyV2) -> PolicyV2:
    """A v1 policy as v2 (its languages become locales)."""
    if isinstance(policy, PolicyV2):
        return policy
    data = policy.model_dump(exclude={"schema_version", "languages"})
    return PolicyV2.model_validate({**data, "schema_version": 2, "locales": policy.languages})


def policy_of_record(value: bytes | None) -> PolicyV2 | None:
    """The policy a rai.policies record holds, None (logged) when it holds none."""
    event = decode(value, topic_spec("rai.policies"))
    if isinstance(event, (PolicyV1, PolicyV2)):
        try:
            return upgrade(event)
        except ValidationError as exc:
            log.error("a rai.policies record cannot be read as a v2 policy (%s); ignored", exc)
            return None
    log.error("a rai.policies record is not a policy (%s); ignored", getattr(event, "detail", event))
    return None


class PolicyBook:
    """The latest version of each policy this worker knows; `current` is the set in force."""

    def __init__(self, base: Iterable[PolicyV2] = ()) -> None:
        self._latest: dict[str, PolicyV2] = {p.policy_id: p for p in base}
        self._current = PolicySet.of(self._latest.values())
        self.updated_at: datetime | None = None

    @classmethod
    def default(cls) -> PolicyBook:
        return cls(load_policies(default_policy_dir()))

    @property
    def current(self) -> PolicySet:
        """The set in force now (re-evaluated when a policy's effective date passes)."""
        if any(p.effective_from is not None for p in self._latest.values()):
            fresh = PolicySet.of(self._latest.values())
            if fresh.policies != self._current.policies:
                self._current = fresh
        return self._current

    @property
    def latest(self) -> Mapping[str, PolicyV2]:
        return dict(self._latest)

    def update(self, policy: PolicyV2) -> bool:
        """Take `policy` when it is newer than what the book holds for its id."""
        held = self._latest.get(policy.policy_id)
        if held is not None and held.version >= policy.version:
            return False
        self._latest[policy.policy_id] = policy
        self._current = PolicySet.of(self._latest.values())
        self.updated_at = datetime.now(UTC)
        log.info("policy %s version %d in force from the next batch (set generation %d)",
                    policy.policy_id, policy.version, self._current.generation)
        return True


class PolicyReader(TopicFollower):
    """Follows rai.policies from its beginning into a `PolicyBook` (a supervised worker part)."""

    def __init__(self, settings: RaiwatchSettings, book: PolicyBook) -> None:
        super().__init__(settings, settings.topic("rai.policies"), self._take)
        self.book = book

    def _take(self, value: bytes | None) -> None:
        if (policy := policy_of_record(value)) is not None:
            self.book.update(policy)


async def read_live_policies(settings: RaiwatchSettings) -> dict[str, PolicyV2]:
    """What rai.policies holds now: the highest version per policy id (read_committed)."""
    from ..ops.topic_reader import committed_records_async

    book = PolicyBook()
    for record in await committed_records_async(settings, settings.topic("rai.policies")):
        if (policy := policy_of_record(record.value)) is not None:
            book.update(policy)
    return dict(book.latest)


def effective_policies(live: Mapping[str, PolicyV2]) -> dict[str, PolicyV2]:
    """What a worker judges under: the default set, replaced policy by policy by `live`."""
    merged = {p.policy_id: p for p in load_policies(default_policy_dir())}
    for policy_id, policy in live.items():
        if policy_id not in merged or merged[policy_id].version < policy.version:
            merged[policy_id] = policy
    return merged
