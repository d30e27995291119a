"""Declares the Faust app and the pipeline's topics. The stages attach in their modules.

The Faust worker hosts the pipeline's long-running loops as app tasks (and its web server when
asked). The join, the judge and the sinks read Kafka through their own aiokafka clients
(`txloop`, `sinks`): see `txloop` for why the delivery-critical paths do not use Faust agents.
`build_pipeline(settings)` returns a `Pipeline` that every stage module's `attach(pipeline)`
wires into; nothing here processes a message.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from ..ops.settings import RaiwatchSettings
from ..schemas.policies import PolicyV1
from ..schemas.registry import TRAFFIC_PARTITIONS, TopicSpec
from .policy import DEFAULT_POLICY

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


def internal_topics(settings: RaiwatchSettings) -> list[TopicSpec]:
    """Topics private to the pipeline, co-partitioned with the traffic topics: judge requests
    and the changelogs of the loops' state. Created with the registry topics before the worker
    starts."""
    prefix = f"{settings.topic_prefix}{settings.app_id}"
    changelog = {"segment.ms": str(10 * 60 * 1000), "min.cleanable.dirty.ratio": "0.2"}
    return [
        TopicSpec(f"{prefix}-judge", {}, "request_id", TRAFFIC_PARTITIONS,
                  "Screened verdicts routed to the LLM judge.", retention_ms=DAY_MS),
        TopicSpec(f"{prefix}-join-changelog", {}, "request_id", TRAFFIC_PARTITIONS,
                  "The join's state: pending and recently joined requests, alert marks.",
                  cleanup_policy="compact", retention_ms=None, extra_configs=changelog),
        TopicSpec(f"{prefix}-judge-changelog", {}, "request_id", TRAFFIC_PARTITIONS,
                  "The judge stage's alert marks.", cleanup_policy="compact", retention_ms=None,
                  extra_configs=changelog),
    ]


@dataclass
class Pipeline:
    """The app and everything the stages share."""

    settings: RaiwatchSettings
    app: Any  # faust.App
    topics: dict[str, str]  # logical name -> physical topic name
    policy: PolicyV1 = DEFAULT_POLICY

    def group_id(self, stage: str) -> str:
        """The consumer group of one stage."""
        return f"{self.app.conf.id}-{stage}"


def build_pipeline(settings: RaiwatchSettings) -> Pipeline:
    """The Faust app (a host for the stage loops) and the physical topic names."""
    import faust

    app = faust.App(
        f"{settings.topic_prefix}{settings.app_id}",
        broker=f"kafka://{settings.bootstrap_servers}",
        store="memory://",
        datadir=str(settings.home_dir / "faust"),
        topic_replication_factor=1,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.host,
    )
    # The stages bring their own Kafka clients: Faust's consumer would only join a group of its
    # own, and its worker starts app tasks after that group's first assignment, which waits out
    # the session timeout of a killed predecessor.
    app.boot_strategy = faust.app.base.BootStrategy(app, enable_kafka=False)
    judge, join_changelog, judge_changelog = (spec.name for spec in internal_topics(settings))
    topics = {
        "prompts": settings.topic("rai.prompts"),
        "outputs": settings.topic("rai.outputs"),
        "judge": judge,
        "join_changelog": join_changelog,
        "judge_changelog": judge_changelog,
        "verdicts": settings.topic("rai.verdicts"),
        "alerts": settings.topic("rai.alerts"),
        "dlq": settings.topic("rai.dlq"),
    }
    return Pipeline(settings=settings, app=app, topics=topics)


def run_loop_task(pipeline: Pipeline, name: str, make_loop: Any) -> None:
    """Run `make_loop()`'s `run()` as a Faust app task; a fatal error stops the worker with a
    non-zero exit (a supervisor restarts it; the transactions make that safe)."""

    async def _task() -> None:
        try:
            await make_loop().run()
        except Exception:  # noqa: BLE001 - fatal for the worker: log and exit
            log.critical("stage %s failed; stopping the worker", name, exc_info=True)
            logging.shutdown()
            os._exit(3)

    _task.__name__ = _task.__qualname__ = name
    pipeline.app.task(_task)


PARTS = ("stages", "sinks")  # what one worker process can run: the Kafka-to-Kafka stages, the ClickHouse sinks


def assemble(settings: RaiwatchSettings, parts: tuple[str, ...] = PARTS) -> Pipeline:
    """The app plus the stages of `parts`: "stages" (join + screen, judge) and/or "sinks"."""
    from . import join, judge, sinks

    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        raise ValueError(f"unknown worker parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    pipeline = build_pipeline(settings)
    modules = {"stages": (join, judge), "sinks": (sinks,)}
    for part in parts:
        for module in modules[part]:
            module.attach(pipeline)
    return pipeline
