"""The judge stage: routed verdicts -> LLM judge (batched) -> the same verdict id, judge stage.

An exactly-once stage loop like the join (`runtime/loop.py`): the refined verdicts, their
alerts, the alert marks and the judge topic's positions and offsets commit together.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import ValidationError

from ..models.registry import create_check
from ..schemas.dead_letters import DeadLetterReason
from ..schemas.decoder import describe_validation_error
from .alerting import Alerter, purge_alert_marks
from .messages import JudgeRequest
from .runtime.checkpoint import Checkpoint
from .runtime.context import StageContext
from .runtime.dead_letters import dead_letter_for, send_dead_letter
from .runtime.loop import Handler, LoopSpec, StageLoop
from .screen import run_checks
from .verdict_telemetry import VerdictMetrics, judge_headers
from .verdicts import refine_verdict, scoring_item

log = logging.getLogger(__name__)


class JudgeHandler(Handler):
    """Judges routed verdicts in batches and republishes them at the judge stage."""

    def __init__(self, ctx: StageContext) -> None:
        settings, topics = ctx.settings, ctx.topics
        self.ctx, self.topics = ctx, topics
        spec, api_key = settings.judge.check, settings.judge.api_key
        secret = {"api_key": api_key.get_secret_value()} if api_key is not None and spec.args.get("backend") == "openai" else {}
        self.judge_check = create_check(spec.name, **spec.args, **secret)
        self.store = ctx.changelog_store(topics.judge_changelog)
        self.alerter = Alerter(settings, self.store, topics.alerts)

    async def process(self, records: list[Any], checkpoint: Checkpoint) -> None:
        started = time.time()
        requests: list[tuple[int, JudgeRequest, Any]] = []
        for record in records:
            try:
                requests.append((record.partition, JudgeRequest.model_validate_json(record.value or b""),
                                 record.headers))
            except ValidationError as exc:
                await send_dead_letter(checkpoint, self.topics.dlq, dead_letter_for(
                    record, DeadLetterReason.SCHEMA_VIOLATION, describe_validation_error(exc), "judge"))
        results = await run_checks([self.judge_check], [scoring_item(r.request) for _, r, _ in requests])
        judge_ms = (time.time() - started) * 1000
        metrics, tracing = VerdictMetrics(self.ctx.telemetry, "judge"), self.ctx.telemetry.tracing
        verdicts, policy = [], self.ctx.policy  # the set in force, for the whole batch
        for (partition, routed, headers), (score,) in zip(requests, results, strict=True):
            screened = routed.verdict
            verdict = refine_verdict(screened, score, policy,
                                     {**screened.stage_latency_ms, "judge": judge_ms})
            verdicts.append((partition, verdict))
            metrics.add(verdict)
            out_headers = judge_headers(headers) if tracing else None
            await checkpoint.send(self.topics.verdicts, verdict.model_dump_json().encode(),
                                  key=routed.request.request_id.encode(), headers=out_headers)
        metrics.publish_on(checkpoint)
        await self.alerter.publish(verdicts, checkpoint, policy)

    async def tick(self, checkpoint: Checkpoint) -> None:
        now_ms = int(time.time() * 1000)
        for partition in self.store.owned():
            purge_alert_marks(self.store, partition, now_ms)


def judge_loop(ctx: StageContext) -> StageLoop:
    """The judge stage's loop (`judge.check` must be set)."""
    settings, judge = ctx.settings, ctx.settings.judge
    spec = LoopSpec(name="judge", topics=(ctx.topics.judge,), group_id=ctx.group_id("judge"),
                    max_records=judge.batch_size, window_s=judge.batch_window_s, tick_interval_s=60.0,
                    dlq_topic=ctx.topics.dlq, transaction_timeout_s=judge.transaction_timeout_s)
    return StageLoop(settings, spec, JudgeHandler(ctx), on_stall=ctx.on_stall, telemetry=ctx.telemetry)
