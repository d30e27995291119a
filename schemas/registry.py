"""The topic table: every topic's name, model(s), key, partitions and configs, in one place.

`raiwatch topics create`, the decoder, JSON Schema export and the Faust app all read this table,
so a topic is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..ops.errors import ConfigurationError
from .alerts import AlertV1
from .common import TopicEvent
from .dead_letters import MAX_ORIGINAL_BYTES, DeadLetterV2
from .evaluation import EvalRequestV1, EvalResultV1
from .policies import IncidentV1, PolicyV1, PolicyV2, RegulationV1
from .redteam import RedteamExampleV1
from .reviews import FeedbackV1, ReviewRequestV1
from .training import TrainRequestV1, TrainResultV1
from .traffic import OutputEventV1, PromptEventV1
from .verdicts import VerdictV1

DAY_MS = 24 * 3600 * 1000

# Prompts and outputs are joined by request_id in one worker's join store, so the two topics must
# be co-partitioned: same key, same partition count. The verdicts topic follows the same count
# so each verdict stays on the worker that produced it.
TRAFFIC_PARTITIONS = 4


@dataclass(frozen=True)
class TopicSpec:
    """One Kafka topic as raiwatch declares it. `versions` maps schema versions to models; it is
    empty for the pipeline's internal topics, whose messages are not public events."""

    name: str
    versions: dict[int, type[TopicEvent]]
    key_field: str | None
    partitions: int
    description: str
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int | None = 7 * DAY_MS
    extra_configs: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> type[TopicEvent]:
        """The current (highest) schema version's model, used by producers."""
        return self.versions[max(self.versions)]

    def configs(self) -> dict[str, str]:
        """Topic configs to create the topic with (the strings Kafka's admin API expects)."""
        configs = {"cleanup.policy": self.cleanup_policy, **self.extra_configs}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs


def _spec(name: str, model: type[TopicEvent], key: str | None, partitions: int, doc: str, **kw) -> TopicSpec:
    return TopicSpec(name, {model.SCHEMA_VERSION: model}, key, partitions, doc, **kw)


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in [
        _spec("rai.prompts", PromptEventV1, "request_id", TRAFFIC_PARTITIONS,
              "Prompts sent to LLMs, published by services."),
        _spec("rai.outputs", OutputEventV1, "request_id", TRAFFIC_PARTITIONS,
              "LLM outputs, published by services."),
        _spec("rai.verdicts", VerdictV1, "request_id", TRAFFIC_PARTITIONS,
              "Screening and judge verdicts, one per request and policy version.",
              retention_ms=30 * DAY_MS),
        _spec("rai.alerts", AlertV1, "dedup_key", 1,
              "Policy violations and regressions for on-call.", retention_ms=30 * DAY_MS),
        _spec("rai.incidents", IncidentV1, "event_id", 1,
              "Public incident reports (social media, news, red team)."),
        _spec("rai.regulations", RegulationV1, "event_id", 1, "Regulation and standard updates.",
              retention_ms=365 * DAY_MS),
        TopicSpec("rai.policies", {1: PolicyV1, 2: PolicyV2}, "policy_id", 1,
                  "Versioned policies; compacted so the latest version per policy is kept forever.",
                  cleanup_policy="compact", retention_ms=-1,
                  extra_configs={"min.compaction.lag.ms": "0", "segment.ms": str(DAY_MS)}),
        _spec("rai.feedback", FeedbackV1, "request_id", 1, "Human labels and rankings.",
              retention_ms=365 * DAY_MS),
        _spec("rai.reviews", ReviewRequestV1, "review_id", 1, "Items waiting for human review.",
              retention_ms=30 * DAY_MS),
        _spec("rai.eval.requests", EvalRequestV1, "eval_id", 1, "Evaluation jobs to run."),
        _spec("rai.eval.results", EvalResultV1, "eval_id", 1, "Evaluation metrics.",
              retention_ms=365 * DAY_MS),
        _spec("rai.train.requests", TrainRequestV1, "job_id", 1, "Training jobs to run."),
        _spec("rai.train.results", TrainResultV1, "job_id", 1, "Training job status and outcomes.",
              retention_ms=365 * DAY_MS),
        _spec("rai.redteam", RedteamExampleV1, "example_id", 1,
              "Model-breaking examples; compacted by example id so duplicates collapse.",
              cleanup_policy="compact", retention_ms=-1),
        _spec("rai.dlq", DeadLetterV2, None, 1,
              "Unprocessable messages: the original bytes as the value, the reason and position as headers.",
              retention_ms=30 * DAY_MS,
              extra_configs={"max.message.bytes": str(MAX_ORIGINAL_BYTES + 128 * 1024)}),
    ]
}


def topic_spec(name: str) -> TopicSpec:
    """The spec of a registry topic name (without prefix); a clear error for an unknown one."""
    try:
        return TOPICS[name]
    except KeyError:
        known = ", ".join(sorted(TOPICS))
        raise ConfigurationError(f"unknown topic {name!r}; known topics: {known}") from None
