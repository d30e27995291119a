"""Declares the Faust app: its settings, topics and tables. Agents attach in their modules.

`build_pipeline(settings)` returns a `Pipeline` that every agent module's `attach(pipeline)`
wires into; nothing here processes a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ops.settings import RaiwatchSettings
from ..schemas.registry import TRAFFIC_PARTITIONS, TopicSpec
from ..schemas.policies import PolicyV1
from .policy import DEFAULT_POLICY


def internal_topics(settings: RaiwatchSettings) -> list[TopicSpec]:
    """Topics private to the pipeline (judge requests), co-partitioned with the traffic
    topics. Created with the registry topics before the worker starts."""
    prefix = f"{settings.topic_prefix}{settings.app_id}"
    return [
        TopicSpec(f"{prefix}-judge", {}, "request_id", TRAFFIC_PARTITIONS,
                  "Screened verdicts routed to the LLM judge.", retention_ms=24 * 3600 * 1000),
    ]


@dataclass
class Pipeline:
    """The app and everything agents share."""

    settings: RaiwatchSettings
    app: Any  # faust.App
    topics: dict[str, Any]  # logical name -> faust Topic
    policy: PolicyV1 = DEFAULT_POLICY
    alerter: Any = None  # streams.alerting.Alerter, set by the join agent


def build_pipeline(settings: RaiwatchSettings) -> Pipeline:
    """The Faust app with raw-bytes topics (decoding is ours: bad input goes to the DLQ)."""
    import faust

    from .faust_fixes import refuse_stale_acks

    refuse_stale_acks()
    app = faust.App(
        f"{settings.topic_prefix}{settings.app_id}",
        broker=f"kafka://{settings.bootstrap_servers}",
        store="memory://",
        datadir=str(settings.home_dir / "faust"),
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=TRAFFIC_PARTITIONS,
        topic_replication_factor=1,
        topic_allow_declare=True,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Batch produce requests: without a linger every send is its own request, which
        # profiling showed to dominate the worker's time.
        producer_linger=0.005,
        producer_max_batch_size=262144,
        broker_max_poll_records=2000,
        stream_buffer_maxsize=4096,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.host,
        table_cleanup_interval=60.0,
    )

    def raw_topic(*names: str, internal: bool = False):
        return app.topic(*names, key_serializer="raw", value_serializer="raw", internal=internal,
                         partitions=TRAFFIC_PARTITIONS if internal else None)

    (judge,) = (spec.name for spec in internal_topics(settings))
    topics = {
        "inputs": raw_topic(settings.topic("rai.prompts"), settings.topic("rai.outputs")),
        "judge": raw_topic(judge),
        "verdicts": raw_topic(settings.topic("rai.verdicts")),
        "alerts": raw_topic(settings.topic("rai.alerts")),
        "dlq": raw_topic(settings.topic("rai.dlq")),
    }
    return Pipeline(settings=settings, app=app, topics=topics)


def assemble(settings: RaiwatchSettings) -> Pipeline:
    """The full pipeline: app plus every agent."""
    from . import join, judge, sinks

    pipeline = build_pipeline(settings)
    for module in (join, judge, sinks):
        module.attach(pipeline)
    return pipeline
