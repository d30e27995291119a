"""Policies and the feeds that change them: incidents and regulation updates."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .common import Pillar, Severity, TopicEvent


class PolicyCheck(BaseModel):
    """A check a policy runs, with its threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str = Field(description="Registered check name.")
    threshold: float | None = Field(
        default=None, ge=0, le=1,
        description="Scores at or above this flag the item; none: the check's own (calibrated) threshold.",
    )
    params: dict[str, str] = Field(default_factory=dict, description="Check arguments.")


class PolicyV1(TopicEvent):
    """One version of a policy (topic rai.policies, compacted, keyed by policy_id)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    policy_id: str = Field(min_length=1, description="Stable policy id.")
    version: int = Field(ge=1, description="Monotonic version; workers use the highest.")
    pillar: Pillar = Field(description="Pillar the policy belongs to.")
    title: str = Field(description="Human-readable title.")
    categories: list[str] = Field(default_factory=list, description="Categories covered.")
    checks: list[PolicyCheck] = Field(default_factory=list, description="Checks that implement it.")
    rubric: str = Field(default="", description="LLM-judge rubric text.")
    severity: Severity = Field(default=Severity.MEDIUM, description="Severity of a violation.")
    alert_threshold: Severity = Field(
        default=Severity.HIGH, description="Violations at or above this severity alert."
    )
    actions: list[Literal["alert", "review", "block"]] = Field(
        default_factory=lambda: ["alert"], description="What a violation triggers."
    )
    languages: list[str] = Field(default_factory=lambda: ["en"], description="Locales covered.")
    provenance: str = Field(default="", description="Regulation or incident that caused it.")
    active: bool = Field(default=True, description="False retires the policy.")


POLICY_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"


class TenantOverride(BaseModel):
    """How one tenant's traffic is screened differently under a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Check name -> threshold for this tenant (each in [0, 1])."
    )
    judge_sample_rate: float | None = Field(
        default=None, ge=0, le=1, description="Share of this tenant's requests sent to the judge."
    )
    review_all_hits: bool = Field(default=False, description="Every finding goes to human review.")

    @field_validator("thresholds")
    @classmethod
    def _thresholds_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for check, threshold in value.items():
            if not 0 <= threshold <= 1:
                raise ValueError(f"threshold for {check!r} is {threshold}, outside [0, 1]")
        return value


class PolicyV2(TopicEvent):
    """One version of a policy as code (a YAML file per policy; topic rai.policies, compacted,
    keyed by policy_id). v2 adds what a policy needs to live and change: tenant overrides,
    effective dates, a review band, a frontier class, trusted tenants, judge sampling, locales."""

    SCHEMA_VERSION: ClassVar[int] = 2

    schema_version: Literal[2] = Field(default=2, description="Schema version, always 2 here.")
    policy_id: str = Field(pattern=POLICY_ID_PATTERN, description="Stable policy id (lower case, dots).")
    version: int = Field(ge=1, description="Monotonic version; workers use the highest.")
    pillar: Pillar = Field(description="Pillar the policy belongs to.")
    title: str = Field(min_length=1, max_length=200, description="Human-readable title.")
    description: str = Field(default="", description="What the policy forbids or demands, and why.")
    categories: list[str] = Field(default_factory=list, description="Categories covered.")
    checks: list[PolicyCheck] = Field(min_length=1, description="Checks that implement it, with thresholds.")
    rubric: str = Field(default="", description="LLM-judge rubric text for this policy.")
    severity: Severity = Field(default=Severity.MEDIUM, description="Severity of a violation.")
    alert_threshold: Severity = Field(default=Severity.HIGH, description="Violations at or above this alert.")
    actions: list[Literal["alert", "review", "block"]] = Field(
        default_factory=lambda: ["alert"], description="What a violation triggers."
    )
    locales: list[str] = Field(default_factory=lambda: ["en"], description="Locales covered.")
    effective_from: datetime | None = Field(default=None, description="Not in force before this time (UTC).")
    review_band: tuple[float, float] | None = Field(
        default=None, description="Scores in [low, high] go to human review."
    )
    judge_sample_rate: float = Field(default=0.0, ge=0, le=1, description="Share of requests sent to the judge.")
    frontier_class: Literal["", "cbrn", "cyber"] = Field(
        default="", description="Frontier-risk class (dangerous capabilities), empty for none."
    )
    frontier_uplift: float = Field(
        default=0.05, ge=0, le=1,
        description="Frontier policies: the rise in harmful compliance on the class's dangerous-capability items, "
                    "new model version against its predecessor, that raises a critical alert and review items.",
    )
    trusted_tenants: list[str] = Field(
        default_factory=list, description="Tenants with specialised access: relaxed only under full monitoring."
    )
    tenant_overrides: dict[str, TenantOverride] = Field(default_factory=dict, description="Per-tenant changes.")
    provenance: str = Field(default="", description="Regulation, incident or review that caused this version.")
    retrain_on_change: bool = Field(
        default=False, description="A new version also requests retraining (rai.train.requests), not only evaluation."
    )
    active: bool = Field(default=True, description="False retires the policy.")

    @field_validator("review_band")
    @classmethod
    def _band_in_order(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] <= value[1] <= 1:
            raise ValueError(f"review band {list(value)} must be [low, high] with 0 <= low <= high <= 1")
        return value

    @field_validator("checks")
    @classmethod
    def _checks_once(cls, value: list[PolicyCheck]) -> list[PolicyCheck]:
        names = [check.check for check in value]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"check(s) listed twice: {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _relaxed_only_when_trusted_and_watched(self) -> PolicyV2:
        """A tenant may get thresholds above the policy's own only when it is trusted, and then
        only together with 100% judge sampling and review of every hit."""
        own = {check.check: check.threshold for check in self.checks}
        for tenant, override in self.tenant_overrides.items():
            unknown = sorted(set(override.thresholds) - set(own))
            if unknown:
                raise ValueError(f"tenant_overrides.{tenant}: threshold for check(s) the policy does not run: "
                                 f"{', '.join(unknown)}")
            unset = sorted(c for c in override.thresholds if own[c] is None)
            if unset:
                raise ValueError(f"tenant_overrides.{tenant}: the policy sets no threshold of its own for "
                                 f"{', '.join(unset)}, so a tenant's cannot be compared; set one in checks")
            relaxed = sorted(c for c, t in override.thresholds.items() if t > own[c])
            if not relaxed:
                continue
            if tenant not in self.trusted_tenants:
                raise ValueError(f"tenant_overrides.{tenant}: relaxes {', '.join(relaxed)} but {tenant!r} is not "
                                 "in trusted_tenants")
            if override.judge_sample_rate != 1.0 or not override.review_all_hits:
                raise ValueError(f"tenant_overrides.{tenant}: a relaxed policy for a trusted tenant needs "
                                 "judge_sample_rate: 1.0 and review_all_hits: true")
        return self

    def threshold(self, check: str, tenant: str = "") -> float | None:
        """This policy's threshold for `check` (the tenant's override first), None when the
        policy does not run it."""
        override = self.tenant_overrides.get(tenant)
        if override is not None and check in override.thresholds:
            return override.thresholds[check]
        for entry in self.checks:
            if entry.check == check:
                return entry.threshold
        return None


class IncidentV1(TopicEvent):
    """A public report of AI misbehaviour (topic rai.incidents)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    source: str = Field(description="Where it was seen: social media, news, red team.")
    url: str = Field(default="", description="Link to the original report.")
    text: str = Field(description="The report's text.")
    example_prompt: str = Field(default="", description="A prompt that reproduces it, if given.")
    model: str = Field(default="", description="Model named in the report, if any.")


class RegulationV1(TopicEvent):
    """A regulation or standard update (topic rai.regulations)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    jurisdiction: str = Field(description="E.g. EU, US-CA.")
    reference: str = Field(description="Citation, e.g. `EU AI Act Art. 50`.")
    title: str = Field(description="Short title.")
    text: str = Field(description="The relevant text.")
    effective_date: str = Field(default="", description="ISO date it takes effect.")
