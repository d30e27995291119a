"""What LLM services publish: one prompt event and one output event per request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ModelRef, TopicEvent


class PromptEventV1(TopicEvent):
    """A request sent to an LLM (topic rai.prompts, keyed by request_id)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    request_id: str = Field(min_length=1, max_length=200, description="Joins prompt and output.")
    tenant: str = Field(default="default", max_length=100, description="Customer or team.")
    model: ModelRef = Field(description="The model the prompt was sent to.")
    prompt: str = Field(description="The user's input text.")
    system_prompt: str = Field(default="", description="Operator instructions, for controllability.")
    context: list[str] = Field(
        default_factory=list, description="Retrieved passages, for groundedness checks."
    )
    locale: str = Field(default="en", max_length=35, description="BCP 47 language tag.")
    use_case: str = Field(default="", max_length=100, description="Product feature or route.")
    metadata: dict[str, str] = Field(default_factory=dict, description="Free-form string tags.")


class OutputEventV1(TopicEvent):
    """A model's response to one request (topic rai.outputs, keyed by request_id)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    request_id: str = Field(min_length=1, max_length=200, description="Joins prompt and output.")
    tenant: str = Field(default="default", max_length=100, description="Customer or team.")
    model: ModelRef = Field(description="The model that produced the output.")
    output: str = Field(description="The generated text.")
    finish_reason: str = Field(default="stop", description="Why generation stopped.")
    latency_ms: float | None = Field(default=None, ge=0, description="Model latency if known.")
    metadata: dict[str, str] = Field(default_factory=dict, description="Free-form string tags.")
