"""The pipeline's topics by role: the registry's public topics and the internal ones (judge
requests, the loops' changelogs), with their physical names for the configured prefix."""

from __future__ import annotations

from dataclasses import dataclass

from ..ops.settings import RaiwatchSettings
from ..schemas.registry import TRAFFIC_PARTITIONS, TopicSpec, topic_spec

DAY_MS = 24 * 3600 * 1000
CHANGELOG_CONFIGS = {"segment.ms": str(10 * 60 * 1000), "min.cleanable.dirty.ratio": "0.2"}


@dataclass(frozen=True)
class PipelineTopics:
    """Physical topic names."""

    prompts: str
    outputs: str
    verdicts: str
    alerts: str
    dlq: str
    judge: str
    join_changelog: str
    judge_changelog: str

    @classmethod
    def of(cls, settings: RaiwatchSettings) -> PipelineTopics:
        internal = f"{settings.kafka.topic_prefix}{settings.stages.app_id}"
        return cls(prompts=settings.topic("rai.prompts"), outputs=settings.topic("rai.outputs"),
                   verdicts=settings.topic("rai.verdicts"), alerts=settings.topic("rai.alerts"),
                   dlq=settings.topic("rai.dlq"), judge=f"{internal}-judge",
                   join_changelog=f"{internal}-join-changelog", judge_changelog=f"{internal}-judge-changelog")


def internal_topics(settings: RaiwatchSettings) -> list[TopicSpec]:
    """Topics private to the pipeline, co-partitioned with the traffic topics: judge requests
    and the changelogs of the loops' state and positions. Created with the registry topics
    before the worker starts."""
    topics = PipelineTopics.of(settings)
    return [
        TopicSpec(topics.judge, {}, "request_id", TRAFFIC_PARTITIONS,
                  "Screened verdicts routed to the LLM judge.", retention_ms=DAY_MS),
        TopicSpec(topics.join_changelog, {}, "request_id", TRAFFIC_PARTITIONS,
                  "The join's state (pending and recently joined requests, alert marks) and input positions.",
                  cleanup_policy="compact", retention_ms=None, extra_configs=CHANGELOG_CONFIGS),
        TopicSpec(topics.judge_changelog, {}, "request_id", TRAFFIC_PARTITIONS,
                  "The judge stage's alert marks and input positions.", cleanup_policy="compact",
                  retention_ms=None, extra_configs=CHANGELOG_CONFIGS),
        TopicSpec(f"{settings.kafka.topic_prefix}{settings.stages.app_id}-risk-levels", {}, "category", 1,
                  "Risk level changes per incident category (every worker follows them).",
                  cleanup_policy="compact", retention_ms=None, extra_configs=CHANGELOG_CONFIGS),
        TopicSpec(f"{settings.kafka.topic_prefix}{settings.stages.app_id}-incidents-changelog", {}, None,
                  topic_spec("rai.incidents").partitions,
                  "The incident feed's recent originals, burst windows and risk levels, and input positions.",
                  cleanup_policy="compact", retention_ms=None, extra_configs=CHANGELOG_CONFIGS),
    ]
