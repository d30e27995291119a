"""The composition root: which loops a worker runs, each built by its stage module from one
`StageContext`. Nothing else wires stages together, and no stage imports this module.

Adding a stage: write a module with a `Handler` and a function `ctx -> StageLoop` (see
`join.py`), and list it in `loop_factories` under the part that runs it.
"""

from __future__ import annotations

from collections.abc import Callable

from ..ops.settings import RaiwatchSettings
from .clickhouse_sinks import deferred_sink_loop, verdicts_sink_loop
from .join import join_loop
from .judge import judge_loop
from .incidents import incidents_loop
from .policy_proposals import policy_feed_loop
from .policy_reader import PolicyBook, PolicyReader
from .redteam_collector import RedteamCollector
from .regression_watch import RegressionWatch
from .risk_levels import RiskReader
from .runtime.context import StageContext
from .runtime.loop import StageLoop, StallCallback
from .telemetry import Telemetry
from .topics import PipelineTopics

# What one worker process can run: the Kafka-to-Kafka stages on the request path, the ClickHouse
# sinks, and the feeds (regulations and policies into proposals and triggers, incidents): the
# feeds' loops sat beside the join in one event loop at first and doubled its median latency.
PARTS = ("stages", "sinks", "feeds")


def stage_context(settings: RaiwatchSettings, on_stall: StallCallback | None = None,
                  telemetry: Telemetry | None = None) -> StageContext:
    """What every stage of this worker shares."""
    return StageContext(settings=settings, topics=PipelineTopics.of(settings), policies=PolicyBook.default(),
                        on_stall=on_stall, telemetry=telemetry or Telemetry())


def loop_factories(ctx: StageContext, parts: tuple[str, ...] = PARTS) -> dict[str, Callable[[], StageLoop | PolicyReader | RiskReader | RegressionWatch | RedteamCollector]]:
    """Name -> a function that builds the loop afresh (the supervisor calls it again to restart
    a crashed loop)."""
    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        raise ValueError(f"unknown worker parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    factories: dict[str, Callable[[], StageLoop | PolicyReader | RiskReader | RegressionWatch | RedteamCollector]] = {}
    if "stages" in parts:
        factories["policies"] = lambda: PolicyReader(ctx.settings, ctx.policies)
        factories["risk-levels"] = lambda: RiskReader(ctx.settings, ctx.risks)
        factories["join"] = lambda: join_loop(ctx)
        if ctx.settings.judge.check is not None:
            factories["judge"] = lambda: judge_loop(ctx)
    if "sinks" in parts:
        factories["clickhouse-verdicts"] = lambda: verdicts_sink_loop(ctx)
        factories["clickhouse-deferred"] = lambda: deferred_sink_loop(ctx)
    if "feeds" in parts:
        if "stages" not in parts:
            factories["policies"] = lambda: PolicyReader(ctx.settings, ctx.policies)
        factories["policy-feeds"] = lambda: policy_feed_loop(ctx)
        factories["incidents"] = lambda: incidents_loop(ctx)
        if ctx.settings.regression.enabled:
            factories["regression-watch"] = lambda: RegressionWatch(ctx)
            factories["redteam-collector"] = lambda: RedteamCollector(ctx)
    return factories
