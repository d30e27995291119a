"""The rules that turn check scores into findings under the policies in force.

Policies are code (YAML files, `policy_files.py`); a worker judges under the set in force
(`policy_set.PolicySet`), the installed default set until rai.policies brings others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..models.rules import mask_sensitive
from ..models.scoring import Score
from ..ops.settings import RaiwatchSettings
from ..schemas.common import Pillar
from .policy_files import default_policy_dir, load_policies
from .policy_set import PolicySet

REFUSAL_PREFIX = "refusal."
COMPLIANCE_PREFIX = "compliance."  # the reply did what was asked: harmful only with a harmful request
NOTE_PREFIX = "explain."  # a finding about how the model answered (no reason given): recorded, not a violation
DATA_LABEL_PREFIX = "pii."  # evidence labels for personal data (not an attack when in a prompt)

DEFAULT_POLICY = PolicySet.of(load_policies(default_policy_dir()))
"""The installed default policy set (schemas/policy_sets/default), in force until rai.policies
says otherwise (`policy_reader.PolicyBook`)."""

DEFAULT_THRESHOLD = 0.5


def check_name(check_id: str) -> str:
    """`pii.regex@1{...}` -> `pii.regex`."""
    return check_id.split("@", 1)[0]


_THRESHOLDS: dict[int, tuple[PolicySet, dict[str, float]]] = {}


def _policy_thresholds(policy: PolicySet) -> dict[str, float]:
    """check name -> threshold for a policy object (cached: called per score, per message; the
    cache holds the policy, so its id is not reused)."""
    cached = _THRESHOLDS.get(id(policy))
    if cached is None or cached[0] is not policy:
        cached = _THRESHOLDS[id(policy)] = (policy, {c.check: c.threshold for c in reversed(policy.checks)
                                                     if c.threshold is not None})
    return cached[1]


def threshold_for(policy: PolicySet, score: Score) -> float:
    """The policy's threshold for the score's check, else the check's own, else the default."""
    name = check_name(score.check)
    own = score.threshold if score.threshold is not None else DEFAULT_THRESHOLD
    return _policy_thresholds(policy).get(name, own)


def verdict_id(request_id: str, policy_id: str, policy_version: int) -> str:
    """Deterministic id: the same request under the same policy version is the same verdict,
    whichever stage or retry writes it."""
    return hashlib.sha256(f"{request_id}\0{policy_id}\0{policy_version}".encode()).hexdigest()[:32]


def is_flagged(score: Score, policy: PolicySet) -> bool:
    """Scored and at or above the policy's threshold."""
    return score.value is not None and score.value >= threshold_for(policy, score)


def redacted_texts(prompt: str, output: str, scores: Sequence[Score]) -> tuple[str, str]:
    """Masked prompt and output for storage: the PII check's masking when one ran (presidio
    finds names the patterns cannot), then always the conservative storage masker
    (`mask_sensitive`: secrets, keys, tokens, every card-like digit run), so nothing reaches
    storage unmasked whichever checks are configured."""
    found: dict[str, tuple[str, bool]] = {}
    for score in scores:
        for side, text in score.redacted.items():
            found.setdefault(side, (text, score.storage_masked))

    def masked(side: str, original: str) -> str:
        text, done = found.get(side, (original, False))
        return text if done else mask_sensitive(text)

    return masked("prompt", prompt), masked("output", output)


JUDGED_PILLARS = (Pillar.SAFETY, Pillar.PRIVACY_SECURITY)  # what the judges' rubrics decide; an uncertain
# score of another pillar's check (leakage, groundedness) is not one a safety judge can settle


def judge_route(
    settings: RaiwatchSettings, request_id: str, tenant: str, scores: Sequence[Score], categories: Sequence[str]
) -> str | None:
    """Why this verdict should go to the judge, or None: an uncertain score, a high-risk
    category, or the tenant's sampling rate (deterministic per request, so retries agree)."""
    low, high = settings.judge.band
    for score in scores:
        if score.pillar in JUDGED_PILLARS and score.value is not None and low <= score.value <= high:
            return f"uncertain:{check_name(score.check)}"
    risky = sorted(set(categories) & set(settings.judge.high_risk_categories))
    if risky:
        return f"high_risk:{risky[0]}"
    rate = settings.judge.sample_rates.get(tenant, settings.judge.sample_rates.get("*", 0.0))
    if rate > 0:
        bucket = int(hashlib.sha256(request_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        if bucket < rate:
            return "sampled"
    return None
