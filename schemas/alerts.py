"""Alerts for on-call: topic rai.alerts, the alerts table, and the optional webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .common import ModelRef, Pillar, Severity, TopicEvent


class AlertV1(TopicEvent):
    """A policy violation or regression worth a human's attention."""

    schema_version: Literal[1] = Field(default=1, description="Schema version, always 1 here.")
    alert_id: str = Field(description="Deterministic from the dedup key and window start.")
    kind: Literal["violation", "over_refusal", "regression", "drift", "risk", "stall", "frontier"] = Field(
        description="What raised the alert ('stall': a partition of a stage stopped moving; 'frontier': a new model "
                    "version gained dangerous capabilities over its predecessor)."
    )
    dedup_key: str = Field(description="Alerts with one key in one window are merged.")
    window_start: datetime = Field(description="Start of the dedup window.")
    tenant: str = Field(default="default", description="Customer or team.")
    model: ModelRef | None = Field(default=None, description="Model concerned, if any.")
    pillar: Pillar | None = Field(default=None, description="Pillar concerned, if any.")
    category: str = Field(default="", description="Category concerned, if any.")
    severity: Severity = Field(description="Severity of the alert.")
    policy_id: str = Field(default="", description="Policy that set the threshold.")
    policy_version: int = Field(default=0, ge=0, description="That policy's version.")
    summary: str = Field(description="One line for the pager.")
    verdict_ids: list[str] = Field(default_factory=list, description="Verdicts behind the alert.")
    details: dict[str, float] = Field(
        default_factory=dict, description="Numbers: counts, effect size, interval bounds."
    )
