"""Human review: which verdicts a person must look at, and the review request that says why.

A verdict goes to review (rai.reviews, then the ClickHouse `reviews` table) when a policy in
force has a review band and one of its checks scored inside it (the checks are unsure), when a
harmful request of a frontier policy's class (CBRN, cyber: `taxonomy.frontier_class`) was
complied with (every such hit is looked at), or when a finding of a
trusted tenant breaks a policy that trusts it (specialised access under heavy monitoring). `raiwatch review` serves the queue; labels go to
rai.feedback (`ops/review_server.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..models.guardrails.taxonomy import frontier_class
from ..models.scoring import Score
from ..schemas.common import Pillar
from ..schemas.reviews import ReviewRequestV1
from ..schemas.verdicts import VerdictV1
from .policy import check_name
from .policy_set import PolicySet

SAFETY = Pillar.SAFETY


def review_reason(verdict: VerdictV1, scores: Sequence[Score], policy: PolicySet) -> tuple[str, Pillar] | None:
    """(why, pillar) when the verdict needs a person, else None."""
    broken = {policy_id for result in verdict.checks for policy_id in result.breaks}
    for candidate in policy.policies:
        if verdict.tenant in candidate.trusted_tenants and candidate.policy_id in broken:
            return f"trusted_tenant:{candidate.policy_id}", candidate.pillar
        if (candidate.frontier_class and verdict.violation and SAFETY in verdict.pillars
                and frontier_class(verdict.prompt_redacted) == candidate.frontier_class):
            return f"frontier:{candidate.policy_id}", candidate.pillar
        if candidate.review_band is None:
            continue
        low, high = candidate.review_band
        runs = {entry.check for entry in candidate.checks}
        for score in scores:
            if check_name(score.check) in runs and score.value is not None and low <= score.value <= high:
                return f"review_band:{candidate.policy_id}:{check_name(score.check)}={score.value:.2f}", candidate.pillar
    return None


def review_request(verdict: VerdictV1, reason: str, pillar: Pillar) -> ReviewRequestV1:
    """The review of a verdict (its id follows from the verdict's: one review per verdict)."""
    review_id = hashlib.sha256(f"review\0{verdict.verdict_id}".encode()).hexdigest()[:24]
    return ReviewRequestV1(event_id=review_id, review_id=review_id, verdict_id=verdict.verdict_id,
                           request_id=verdict.request_id, tenant=verdict.tenant, pillar=pillar,
                           category=verdict.categories[0] if verdict.categories else "", reason=reason,
                           prompt_redacted=verdict.prompt_redacted, output_redacted=verdict.output_redacted)
