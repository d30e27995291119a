"""The result of screening one request: topic rai.verdicts, one row per verdict in ClickHouse."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .common import ModelRef, Pillar, Severity, TopicEvent


class Stage(StrEnum):
    """Pipeline stage that wrote a verdict revision; a later stage supersedes an earlier one."""

    SCREEN = "screen"
    JUDGE = "judge"

    @property
    def revision(self) -> int:
        """Monotonic revision number used by ClickHouse ReplacingMergeTree to keep the latest."""
        return {Stage.SCREEN: 1, Stage.JUDGE: 2}[self]


class EvidenceSpan(BaseModel):
    """A span of the judged text that supports a finding (explainability)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["prompt", "output"] = Field(description="Which text the span points into.")
    start: int = Field(ge=0, description="Start character offset.")
    end: int = Field(ge=0, description="End character offset (exclusive).")
    label: str = Field(description="What was found there, e.g. `pii.email`.")


class CheckResult(BaseModel):
    """One check's outcome inside a verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str = Field(description="Registered check name with its artifact version.")
    score: float | None = Field(
        description="Risk score in [0, 1]; None means unscored (timeout, failure)."
    )
    pillar: Pillar = Field(description="Pillar the check measures.")
    categories: list[str] = Field(default_factory=list, description="Categories found.")
    flagged: bool = Field(default=False, description="Score at or above the check's threshold.")
    error: str = Field(default="", description="Why the check is unscored, if it is.")
    breaks: list[str] = Field(default_factory=list, description="Ids of the policies this finding breaks.")


class Superseded(BaseModel):
    """What the revision a verdict replaces counted, so that per-minute metrics (ClickHouse
    views fed by inserts) take it back when the new revision is stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Stage = Field(description="Stage of the replaced revision.")
    violation: bool = Field(description="It was a violation.")
    over_refusal: bool = Field(default=False, description="It was an over-refusal.")
    partial: bool = Field(default=False, description="It was partial.")
    findings: list[tuple[str, str]] = Field(default_factory=list, description="Its (pillar, category) findings.")


class VerdictV1(TopicEvent):
    """Screening (and optionally judging) result for one request under one policy version."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    verdict_id: str = Field(description="Deterministic: hash of request id, policy id and version.")
    request_id: str = Field(description="The request this verdict is about.")
    tenant: str = Field(default="default", description="Customer or team.")
    model: ModelRef = Field(description="The model whose traffic was screened.")
    stage: Stage = Field(description="Stage that produced this revision.")
    policy_id: str = Field(description="Policy the checks implement (governance).")
    policy_version: int = Field(ge=0, description="Version of that policy (of a set: its generation).")
    policies: list[str] = Field(
        default_factory=list, description="`id@version` of every policy the request was judged under."
    )
    checks: list[CheckResult] = Field(default_factory=list, description="Per-check results.")
    pillars: list[Pillar] = Field(default_factory=list, description="Pillars with a finding.")
    categories: list[str] = Field(default_factory=list, description="Categories with a finding.")
    violation: bool = Field(description="The request violates the policy.")
    over_refusal: bool = Field(default=False, description="A benign prompt was refused.")
    severity: Severity = Field(default=Severity.INFO, description="Severity of the worst finding.")
    judge_score: float | None = Field(default=None, description="LLM judge risk score, if judged.")
    rationale: str = Field(default="", description="Why: the judge's or the rules' explanation.")
    evidence: list[EvidenceSpan] = Field(default_factory=list, description="Supporting spans.")
    partial: bool = Field(default=False, description="Prompt or output never arrived (join timeout).")
    locale: str = Field(default="en", description="Language of the request.")
    input_published_ms: int = Field(
        default=0, ge=0, description="Kafka timestamp (ms) of the latest input message; end-to-end latency base."
    )
    stage_latency_ms: dict[str, float] = Field(
        default_factory=dict, description="Milliseconds spent per stage (join, screen, judge, ...)."
    )
    prompt_redacted: str = Field(default="", description="Prompt with PII masked.")
    output_redacted: str = Field(default="", description="Output with PII masked.")
    supersedes: Superseded | None = Field(
        default=None, description="A judge revision: what the screen verdict it replaces counted.")
