"""Offline evaluation: requests to evaluate a model on suites, and their results."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ModelRef, Pillar, TopicEvent


class EvalRequestV1(TopicEvent):
    """Evaluate a model or checkpoint on suites (topic rai.eval.requests)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    eval_id: str = Field(description="Deterministic from cause and target; dedups triggers.")
    model: ModelRef = Field(description="Model, version and adapter to evaluate.")
    checkpoint_path: str = Field(default="", description="Local path of a checkpoint, if any.")
    suites: list[str] = Field(description="Suite names to run.")
    cause: str = Field(description="What triggered it: policy version, risk level, red-team batch.")
    policy_versions: dict[str, int] = Field(
        default_factory=dict, description="Policy id to version used for scoring."
    )


class EvalResultV1(TopicEvent):
    """One metric of one suite for one evaluated model (topic rai.eval.results)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    eval_id: str = Field(description="The request this answers.")
    model: ModelRef = Field(description="The evaluated model.")
    suite: str = Field(description="Suite name.")
    pillar: Pillar = Field(description="Pillar the suite measures.")
    category: str = Field(default="", description="Category within the suite, if split.")
    metric: str = Field(description="E.g. harmful_compliance_rate, over_refusal_rate.")
    value: float = Field(description="Point estimate.")
    ci_low: float | None = Field(default=None, description="Lower 95% confidence bound.")
    ci_high: float | None = Field(default=None, description="Upper 95% confidence bound.")
    n: int = Field(ge=0, description="Number of items.")
    status: Literal["ok", "failed"] = Field(default="ok", description="Whether the run finished.")
    data_version: str = Field(default="", description="Version of the suite's data where it changes (the "
                              "collected red-team examples: their count and a hash of their ids).")
    detail: str = Field(default="", description="Why the run failed, if it did.")
