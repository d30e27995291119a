"""Model-breaking examples collected from verdicts and incidents (topic rai.redteam)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ModelRef, Pillar, TopicEvent


class RedteamExampleV1(TopicEvent):
    """A prompt that made a model violate a policy; feeds evaluation suites and training data."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    example_id: str = Field(description="Hash of the normalised prompt: near-duplicates collapse.")
    source: Literal["verdict", "incident", "manual"] = Field(description="Where it came from.")
    prompt_redacted: str = Field(description="The breaking prompt, PII masked.")
    output_redacted: str = Field(default="", description="The violating output, PII masked.")
    model: ModelRef | None = Field(default=None, description="Model it broke, if known.")
    pillar: Pillar = Field(description="Pillar violated.")
    category: str = Field(default="", description="Category violated.")
    policy_id: str = Field(default="", description="Policy violated.")
    policy_version: int = Field(default=0, ge=0, description="That policy's version.")
