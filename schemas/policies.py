"""Policies and the feeds that change them: incidents and regulation updates."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .common import Pillar, Severity, TopicEvent


class PolicyCheck(BaseModel):
    """A check a policy runs, with its threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str = Field(description="Registered check name.")
    threshold: float = Field(ge=0, le=1, description="Scores at or above this flag the item.")
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
