"""What a stage gets to build its loops: settings, topic names, the policies in force, clients.
Stages take everything from here and never import the app (the only composition root)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...ops import kafka_clients
from ...ops.settings import RaiwatchSettings
from ..policy_reader import PolicyBook
from ..policy_set import PolicySet
from ..risk_levels import RiskBook
from ..telemetry import Telemetry
from ..topics import PipelineTopics
from .loop import StallCallback
from .state_store import ChangelogStore


@dataclass(frozen=True)
class StageContext:
    """Shared by every stage of one worker."""

    settings: RaiwatchSettings
    topics: PipelineTopics
    policies: PolicyBook  # kept up to date from rai.policies by the worker's `PolicyReader`
    risks: RiskBook = field(default_factory=RiskBook)  # kept up to date by the worker's `RiskReader`
    on_stall: StallCallback | None = None
    telemetry: Telemetry = field(default_factory=Telemetry)

    @property
    def policy(self) -> PolicySet:
        """The policies in force now (a stage reads this once per batch)."""
        return self.policies.current

    def group_id(self, stage: str) -> str:
        """The consumer group of one stage."""
        return f"{self.settings.kafka.topic_prefix}{self.settings.stages.app_id}-{stage}"

    def consumer(self, **kwargs: Any) -> Any:
        """An aiokafka consumer with the configured connection and security settings."""
        return kafka_clients.consumer(self.settings, **kwargs)

    def changelog_store(self, topic: str, decode_value: Callable[[Any], Any] = lambda value: value) -> ChangelogStore:
        """A state store backed by `topic`."""
        return ChangelogStore(lambda **kwargs: self.consumer(**kwargs), topic, decode_value)
