"""What every topic's event shares: a schema version, an event id, a timestamp; and the pillars.

Events are JSON on the wire. Each topic's model subclasses `TopicEvent` and fixes
`schema_version` to a literal, so an event of an unknown version fails loudly (DLQ) instead of
being half-understood.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    """Current time, timezone-aware UTC (naive datetimes are rejected on the wire)."""
    return datetime.now(UTC)


class Pillar(StrEnum):
    """The eight responsible-AI pillars a verdict or policy belongs to (DESIGN.md)."""

    PRIVACY_SECURITY = "privacy_security"
    SAFETY = "safety"
    FAIRNESS = "fairness"
    VERACITY_ROBUSTNESS = "veracity_robustness"
    EXPLAINABILITY = "explainability"
    CONTROLLABILITY = "controllability"
    GOVERNANCE = "governance"
    TRANSPARENCY = "transparency"


class Severity(StrEnum):
    """How bad a violation is; policies set the alerting threshold on this scale."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Ordinal for threshold comparisons (info=0 ... critical=4)."""
        return list(Severity).index(self)


class TopicEvent(BaseModel):
    """Base of every topic model: strict, versioned, timestamped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=1_000_000)

    SCHEMA_VERSION: ClassVar[int] = 1

    schema_version: int = Field(description="Version of this event's schema; see the topic registry.")
    event_id: str = Field(
        min_length=1,
        max_length=200,
        description="Unique id of this event; producers reuse it on retry so duplicates are dropped.",
    )
    ts: datetime = Field(default_factory=utc_now, description="When the event happened (UTC).")


class ModelRef(BaseModel):
    """Which model produced the traffic: the unit that regression detection compares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Model family or deployment name.")
    version: str = Field(default="", description="Model version, checkpoint or build id.")
    adapter: str = Field(default="", description="LoRA adapter id, empty for the base model.")
