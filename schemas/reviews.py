"""Human review: items waiting for a reviewer (rai.reviews) and their labels (rai.feedback)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import Pillar, TopicEvent


class ReviewRequestV1(TopicEvent):
    """A verdict that a policy sends to human review (topic rai.reviews)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    review_id: str = Field(description="Deterministic from the verdict id.")
    verdict_id: str = Field(description="The verdict under review.")
    request_id: str = Field(description="The request under review.")
    tenant: str = Field(default="default", description="Customer or team.")
    pillar: Pillar = Field(description="Pillar of the finding.")
    category: str = Field(default="", description="Category of the finding.")
    reason: str = Field(description="Why it needs a human: review band, frontier risk, sampling.")
    prompt_redacted: str = Field(default="", description="Prompt with PII masked.")
    output_redacted: str = Field(default="", description="Output with PII masked.")


class FeedbackV1(TopicEvent):
    """A human label or ranking (topic rai.feedback); input to reward models and calibration."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    request_id: str = Field(description="The request the feedback is about.")
    verdict_id: str = Field(default="", description="The verdict reviewed, if any.")
    reviewer: str = Field(description="Who gave the feedback.")
    label: Literal["violation", "safe", "over_refusal", "unsure"] = Field(
        description="The reviewer's judgement."
    )
    categories: list[str] = Field(default_factory=list, description="Categories the reviewer saw.")
    preferred_output: str = Field(default="", description="A better response, for preference data.")
    ranking: list[str] = Field(
        default_factory=list, description="Candidate output ids, best first, for reward training."
    )
    comment: str = Field(default="", description="Free text.")
