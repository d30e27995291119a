"""The rules that turn check scores into findings under the policies in force.

Policies are code (YAML files, `policy_files.py`); a worker judges under the set in force
(`policy_set.PolicySet`), the installed default set until rai.policies brings others.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence

from ..models.rules import find_pii, mask_sensitive, merge_spans, redact
from ..models.scoring import Score
from ..ops.settings import RaiwatchSettings
from ..schemas.common import Pillar
from ..schemas.verdicts import EvidenceSpan
from .policy_files import default_policy_dir, load_policies
from .policy_set import PolicySet

REFUSAL_PREFIX = "refusal."
COMPLIANCE_PREFIX = "compliance."  # the reply did what was asked: harmful only with a harmful request
HARMFUL_REPLY_PREFIX = "harmful_reply."  # the reply gives harmful help: harmful compliance with a harmful request
REPLY_SIGNAL_PREFIXES = (REFUSAL_PREFIX, COMPLIANCE_PREFIX, HARMFUL_REPLY_PREFIX)  # about the reply, not findings
NOTE_PREFIX = "explain."  # a finding about how the model answered (no reason given): recorded, not a violation
DATA_LABEL_PREFIX = "pii."  # evidence labels for personal data (not an attack when in a prompt)

DEFAULT_POLICY = PolicySet.of(load_policies(default_policy_dir()))
"""The installed default policy set (schemas/policy_sets/default), in force until rai.policies
says otherwise (`policy_reader.PolicyBook`)."""

DEFAULT_THRESHOLD = 0.5


def check_name(check_id: str) -> str:
    """`pii.regex@1{...}` -> `pii.regex`."""
    return check_id.split("@", 1)[0]


_THRESHOLDS: dict[tuple[int, str], tuple[PolicySet, dict[str, float]]] = {}


def _policy_thresholds(policy: PolicySet, tenant: str) -> dict[str, float]:
    """check name -> threshold for a policy set and a tenant (cached: called per score, per
    message; the cache holds the set, so its id is not reused)."""
    key = (id(policy), tenant)
    cached = _THRESHOLDS.get(key)
    if cached is None or cached[0] is not policy:
        cached = _THRESHOLDS[key] = (policy, {c.check: c.threshold for c in policy.checks_for(tenant)
                                              if c.threshold is not None})
    return cached[1]


def threshold_for(policy: PolicySet, score: Score, tenant: str = "") -> float:
    """The policies' threshold for the score's check (with the tenant's overrides), else the
    check's own, else the default."""
    name = check_name(score.check)
    own = score.threshold if score.threshold is not None else DEFAULT_THRESHOLD
    return _policy_thresholds(policy, tenant).get(name, own)


def verdict_id(request_id: str, policy_id: str, policy_version: int) -> str:
    """Deterministic id: the same request under the same policy version is the same verdict,
    whichever stage or retry writes it."""
    return hashlib.sha256(f"{request_id}\0{policy_id}\0{policy_version}".encode()).hexdigest()[:32]


def is_flagged(score: Score, policy: PolicySet, tenant: str = "") -> bool:
    """Scored and at or above the policies' threshold for this tenant."""
    return score.value is not None and score.value >= threshold_for(policy, score, tenant)


def redacted_texts(prompt: str, output: str, scores: Sequence[Score]) -> tuple[str, str]:
    """Masked prompt and output for storage: the PII check's masking when one ran (presidio
    finds names the patterns cannot), and always the conservative storage masker
    (`find_pii`: secrets, keys, tokens, every card-like digit run), so nothing reaches storage
    unmasked whichever checks are configured. Where the PII check says which spans it masked
    (its evidence), both sets of spans are masked in the original text at once: masking one
    after the other loses what the first hid the second's cue in ("MAIL_PASSWORD=" read as a
    name left the password after it bare)."""
    found: dict[str, tuple[str, bool, list[tuple[int, int, str]]]] = {}
    for score in scores:
        for side, text in score.redacted.items():
            spans = [(e.start, e.end, e.label.removeprefix(DATA_LABEL_PREFIX)) for e in score.evidence
                     if e.source == side and e.label.startswith(DATA_LABEL_PREFIX)]
            found.setdefault(side, (text, score.storage_masked, spans))

    def masked(side: str, original: str) -> str:
        text, done, spans = found.get(side, (original, False, []))
        if done:
            return text
        if spans and all(0 <= start < end <= len(original) for start, end, _ in spans):
            return redact(original, merge_spans([*spans, *find_pii(original)]))
        return mask_sensitive(text)

    return masked("prompt", prompt), masked("output", output)


_MASK_TOKEN = re.compile(r"<[A-Z_]{2,40}>")


def offset_map(original: str, masked: str) -> Callable[[int, bool], int] | None:
    """Maps an offset in `original` to the same place in `masked` (the text with spans replaced
    by `<KIND>` tokens), so evidence found in the original points into what is stored: the text
    between tokens is found in the original in order; an offset inside a masked span goes to its
    token's start (a span's start) or end (a span's end). None when the texts do not align."""
    if original == masked:
        return lambda offset, _end: offset
    pieces: list[tuple[int, int, int]] = []  # (original start, masked start, length) of each kept piece
    pos_original = pos_masked = 0
    for token in [*_MASK_TOKEN.finditer(masked), None]:
        piece_end = token.start() if token else len(masked)
        piece = masked[pos_masked:piece_end]
        if token is None:  # the last piece ends the text
            found = len(original) - len(piece)
            if found < pos_original or not original.endswith(piece):
                return None
        else:
            found = original.find(piece, pos_original) if piece else pos_original
            if found < 0:
                return None
        pieces.append((found, pos_masked, len(piece)))
        pos_original, pos_masked = found + len(piece), (token.end() if token else piece_end)

    def to_masked(offset: int, is_end: bool) -> int:
        for i, (o_start, m_start, length) in enumerate(pieces):
            if offset < o_start:  # inside the masked span before this piece: its token
                token_end = m_start
                token_start = pieces[i - 1][1] + pieces[i - 1][2] if i else 0
                return token_end if is_end else token_start
            if offset <= o_start + length:
                return m_start + offset - o_start
        return len(masked)

    return to_masked


def evidence_in_stored_text(evidence: Sequence[EvidenceSpan], texts: Mapping[str, tuple[str, str]]) -> list[EvidenceSpan]:
    """The evidence with offsets into the stored (masked) texts: `texts` maps a side to its
    (original, masked) pair. A span inside a masked value points at its `<KIND>` token."""
    maps = {side: offset_map(original, masked) for side, (original, masked) in texts.items()}
    out = []
    for span in evidence:
        to_masked = maps.get(span.source)
        if to_masked is None:
            out.append(span)
            continue
        start, end = to_masked(span.start, False), to_masked(span.end, True)
        out.append(span.model_copy(update={"start": start, "end": max(start, end)}))
    return out


JUDGED_PILLARS = (Pillar.SAFETY, Pillar.PRIVACY_SECURITY)  # what the judges' rubrics decide; an uncertain
# score of another pillar's check (leakage, groundedness) is not one a safety judge can settle


ELEVATED_SAMPLE_RATE = 0.25  # the judged share of a policy an incident burst touches


def uncertain(score: Score, band: tuple[float, float]) -> bool:
    """Whether a score lies in the judge band. The band is set around 0.5; for a check with its
    own threshold (a trained classifier's, chosen on validation data: harm 0.31, harmful_reply
    0.37) it is moved to centre on that threshold, where that check is unsure."""
    low, high = band
    if score.value is None:
        return False
    centre = score.threshold if score.threshold is not None else 0.5
    return centre - (0.5 - low) <= score.value <= centre + (high - 0.5)


def judge_route(
    settings: RaiwatchSettings, request_id: str, tenant: str, scores: Sequence[Score], categories: Sequence[str],
    policy: PolicySet | None = None, broken: Sequence[str] = (), elevated: Mapping[str, Pillar] | None = None,
) -> str | None:
    """Why this verdict should go to the judge, or None: an uncertain score, a high-risk
    category, a finding of a tenant that a policy trusts (every hit is judged), or sampling: the
    tenant's rate from the settings or, higher, from a policy in force (its own or the tenant's
    override), or `ELEVATED_SAMPLE_RATE` for a policy that an elevated incident category touches
    (`elevated`: category -> pillar; the policy lists the category, or has none and is of its
    pillar). Deterministic per request, so retries agree."""
    for score in scores:
        if score.pillar in JUDGED_PILLARS and score.value is not None and uncertain(score, settings.judge.band):
            return f"uncertain:{check_name(score.check)}"
    risky = sorted(set(categories) & set(settings.judge.high_risk_categories))
    if risky:
        return f"high_risk:{risky[0]}"
    rate, source = settings.judge.sample_rates.get(tenant, settings.judge.sample_rates.get("*", 0.0)), ""
    for candidate in policy.policies if policy is not None else ():
        if tenant in candidate.trusted_tenants and candidate.policy_id in broken:
            return f"trusted_tenant:{candidate.policy_id}"
        override = candidate.tenant_overrides.get(tenant)
        policy_rate = (override.judge_sample_rate if override is not None and override.judge_sample_rate is not None
                       else candidate.judge_sample_rate)
        if policy_rate > rate:
            rate, source = policy_rate, candidate.policy_id
        for category, pillar in (elevated or {}).items():
            touches = category in candidate.categories or (not candidate.categories and candidate.pillar == pillar)
            if touches and ELEVATED_SAMPLE_RATE > rate:
                rate, source = ELEVATED_SAMPLE_RATE, f"risk:{category}"
    if rate > 0:
        bucket = int(hashlib.sha256(request_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        if bucket < rate:
            return f"sampled:{source}" if source else "sampled"
    return None
