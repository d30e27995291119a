"""Retraining jobs: requests (rai.train.requests) and their outcomes (rai.train.results)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ModelRef, TopicEvent


class TrainRequestV1(TopicEvent):
    """Train a reward model or a DPO LoRA adapter (topic rai.train.requests)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    job_id: str = Field(description="Deterministic from cause and base model; dedups triggers.")
    method: Literal["reward", "dpo"] = Field(description="Which trainer runs.")
    base_model: ModelRef = Field(description="Model the adapter is trained on.")
    cause: str = Field(description="What triggered it.")
    data_version: str = Field(default="", description="Preference data set version to use.")
    policy_versions: dict[str, int] = Field(
        default_factory=dict, description="Policy id to version the data was labelled under."
    )
    params: dict[str, str] = Field(default_factory=dict, description="Trainer overrides.")


class TrainResultV1(TopicEvent):
    """Status and outcome of a training job (topic rai.train.results)."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    job_id: str = Field(description="The job this reports on.")
    status: Literal["started", "progress", "succeeded", "failed", "promoted", "rejected"] = Field(
        description="Where the job stands."
    )
    adapter_id: str = Field(default="", description="Adapter produced, if any.")
    checkpoint_path: str = Field(default="", description="Where the best checkpoint lies.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Numbers behind a decision.")
    message: str = Field(default="", description="Human-readable detail or error.")
