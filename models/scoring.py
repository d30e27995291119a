"""The one scoring interface that every guardrail, judge and reward model implements.

Why batchable and async: the screen stage micro-batches messages (`stream.take(n, within=t)`)
so a classifier or an LLM judge sees many items per call, and a judge behind HTTP must not
block the event loop. Why an explicit unscored result: a timeout or a parse failure must be
visible in the verdict (and its metric), never silently read as "safe".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..schemas.common import Pillar
from ..schemas.verdicts import EvidenceSpan


@dataclass(frozen=True)
class ScoringItem:
    """What a check sees of one request. Either side may be empty (a partial join)."""

    request_id: str
    prompt: str = ""
    output: str = ""
    system_prompt: str = ""
    context: tuple[str, ...] = ()
    locale: str = "en"
    tenant: str = "default"
    use_case: str = ""  # the prompt event's product feature or route (picks a use case's adapter)
    model: str = ""  # the model that produced the output: name, version, adapter
    model_version: str = ""
    model_adapter: str = ""


@dataclass(frozen=True)
class Score:
    """One check's result for one item.

    `value` is a risk score in [0, 1] (higher is worse) or None when unscored; `error` then says
    why. `redacted` maps "prompt"/"output" to masked text for checks that find PII.
    `threshold` is the check's own decision threshold (a trained classifier's, chosen on
    validation data); a policy's threshold for the check takes precedence over it.
    """

    check: str
    pillar: Pillar
    value: float | None
    categories: tuple[str, ...] = ()
    evidence: tuple[EvidenceSpan, ...] = ()
    rationale: str = ""
    error: str = ""
    redacted: dict[str, str] = field(default_factory=dict)
    threshold: float | None = None
    # A lower threshold this score passed without being flagged, and the categories it would
    # have: a finding only where another check corroborates it (a possible harmful request
    # whose reply gives harmful help). `categories` stays empty: it holds flagged findings only.
    lenient_threshold: float | None = None
    lenient_categories: tuple[str, ...] = ()
    storage_masked: bool = False  # `redacted` already went through the storage masker (`rules.mask_sensitive`)

    @property
    def scored(self) -> bool:
        """False for timeouts, failures and unparseable judge answers."""
        return self.value is not None

    @classmethod
    def unscored(cls, check: str, pillar: Pillar, error: str) -> Score:
        """The explicit "could not score" result."""
        return cls(check=check, pillar=pillar, value=None, error=error)


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores a batch of items: guardrails, LLM judges, reward models.

    `check_id` names the check, its arguments and artifact version (see `models.registry`), so
    every verdict records exactly what produced it.
    """

    check_id: str
    pillar: Pillar

    async def score_batch(self, items: Sequence[ScoringItem]) -> list[Score]:
        """One Score per item, in order. Must not raise for bad items: return unscored ones."""
        ...
