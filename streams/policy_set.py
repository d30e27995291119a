"""The policies in force, as the one set a verdict is judged under.

A worker judges every request under all policies in force (active, and effective by now). The
verdict records the set (`policy_id` = `SET_ID`, `policy_version` = the set's generation), the
id@version of each policy in it (`policies`), and for each finding the policies it breaks
(`CheckResult.breaks`). The generation is the sum of the versions of every policy the worker
knows, active or not: every applied change raises one version, so the generation only grows,
and the same policies give the same verdict id for the same request on every retry.

Where policies share a check, the set flags with the strictest (lowest) threshold, and a
finding breaks each policy whose own threshold it reaches (with the tenant's override).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from ..schemas.common import Severity
from ..schemas.policies import PolicyCheck, PolicyV2

SET_ID = "raiwatch.policies"


@dataclass(frozen=True)
class PolicySet:
    """The policies in force at one moment (immutable: a batch keeps the set it started with)."""

    policies: tuple[PolicyV2, ...]
    generation: int
    known: tuple[str, ...] = field(default=())  # every policy id the worker knows (for `raiwatch policy list`)

    @classmethod
    def of(cls, known: Iterable[PolicyV2], now: datetime | None = None) -> PolicySet:
        """The set in force at `now` among the latest versions `known` (one per id)."""
        known = sorted(known, key=lambda p: p.policy_id)
        moment = now or datetime.now(UTC)
        in_force = tuple(p for p in known if p.active and (p.effective_from is None or p.effective_from <= moment))
        return cls(in_force, sum(p.version for p in known), tuple(p.policy_id for p in known))

    @property
    def policy_id(self) -> str:
        return SET_ID

    @property
    def version(self) -> int:
        return self.generation

    @cached_property
    def checks(self) -> list[PolicyCheck]:
        """Each check any policy runs, at the strictest threshold a policy gives it (none: the
        check's own)."""
        return self.checks_for("")

    def checks_for(self, tenant: str) -> list[PolicyCheck]:
        """`checks` with `tenant`'s overrides: each policy's threshold for the tenant, the
        strictest of them (so one policy's relaxed override does not relax another's check)."""
        strictest: dict[str, float | None] = {}
        for policy in self.policies:
            for entry in policy.checks:
                threshold = policy.threshold(entry.check, tenant)
                if entry.check not in strictest or strictest[entry.check] is None:
                    strictest[entry.check] = threshold
                elif threshold is not None:
                    strictest[entry.check] = min(strictest[entry.check], threshold)
        return [PolicyCheck(check=name, threshold=threshold) for name, threshold in strictest.items()]

    @cached_property
    def severity(self) -> Severity:
        """The highest severity of the policies in force (INFO when none is)."""
        return max((p.severity for p in self.policies), key=lambda s: s.rank, default=Severity.INFO)

    def severity_of(self, policy_ids: Iterable[str]) -> Severity:
        """The highest severity among the policies `policy_ids` (the set's own when none is given:
        a finding of a check no policy in force lists)."""
        wanted = set(policy_ids)
        found = [p.severity for p in self.policies if p.policy_id in wanted]
        return max(found, key=lambda s: s.rank) if found else self.severity

    @cached_property
    def alert_threshold(self) -> Severity:
        """The lowest alert threshold of the policies in force."""
        return min((p.alert_threshold for p in self.policies), key=lambda s: s.rank, default=Severity.CRITICAL)

    @cached_property
    def refs(self) -> list[str]:
        """`id@version` of each policy in force."""
        return [f"{p.policy_id}@{p.version}" for p in self.policies]

    @cached_property
    def verdict_policies(self) -> list[PolicyV2]:
        """The policies a single verdict can break. Frontier policies (`frontier_class`) judge
        model versions on the dangerous-capability suite (`streams/frontier_watch.py`) and send
        complied frontier requests to review (`streams/reviews.py`); no single finding breaks them."""
        return [p for p in self.policies if not p.frontier_class]

    def running(self, check: str, categories: Sequence[str]) -> list[str]:
        """The ids of the policies in force that run `check` and cover one of `categories` (a
        policy without categories, or no categories given, matches on the check alone)."""
        return [p.policy_id for p in self.verdict_policies
                if any(entry.check == check for entry in p.checks)
                and not (p.categories and categories and not set(categories) & set(p.categories))]

    def breaks(self, check: str, value: float | None, own_threshold: float, categories: Sequence[str],
               tenant: str) -> list[str]:
        """The ids of the policies in force that a finding of `check` with score `value` breaks:
        those that run the check, whose threshold (the tenant's, the policy's, else the check's
        own) it reaches, and whose categories include one of the finding's (a policy without
        categories, or a finding without any, matches on the check alone)."""
        if value is None:
            return []
        broken = []
        for policy in self.verdict_policies:
            threshold = policy.threshold(check, tenant)
            runs = threshold is not None or any(entry.check == check for entry in policy.checks)
            if not runs or value < (own_threshold if threshold is None else threshold):
                continue
            if policy.categories and categories and not set(categories) & set(policy.categories):
                continue
            broken.append(policy.policy_id)
        return broken
