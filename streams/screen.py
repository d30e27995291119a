"""The screen stage: joined requests -> every configured check (one batch) -> verdicts.

It runs inside the join's micro-batch and transaction (no extra topic hop: profiling showed
each Kafka hop costs the single-threaded worker more than the rule checks themselves). Checks run
concurrently on the whole batch through the scoring interface; a check that fails yields
unscored results, recorded in the verdict, never a crash. Verdicts go to rai.verdicts; those
the routing rule picks also go to the judge stage; violations feed the alerter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from ..models.registry import create_check
from ..models.scoring import Score, Scorer, ScoringItem
from .alerting import Alerter
from .messages import JoinedRequest, JudgeRequest
from .policy import judge_route
from .reviews import review_reason, review_request
from .runtime.checkpoint import Checkpoint
from .runtime.context import StageContext
from .verdict_telemetry import VerdictMetrics, screen_headers
from .verdicts import build_verdict, scoring_item

log = logging.getLogger(__name__)


async def run_checks(checks: list[Scorer], items: list[ScoringItem]) -> list[list[Score]]:
    """Scores per item (one per check); a check that raises gives unscored results for all."""

    async def one(check: Scorer) -> list[Score]:
        try:
            scores = await check.score_batch(items)
            if len(scores) != len(items):
                raise RuntimeError(f"returned {len(scores)} scores for {len(items)} items")
            own = getattr(check, "threshold", None)
            if own is not None:
                scores = [s if s.threshold is not None else replace(s, threshold=own) for s in scores]
            return scores
        except Exception as exc:  # noqa: BLE001 - a broken check must not stop the stream
            log.exception("check %s failed on a batch of %d", check.check_id, len(items))
            return [Score.unscored(check.check_id, check.pillar, f"{type(exc).__name__}: {exc}") for _ in items]

    if not items:
        return []
    per_check = await asyncio.gather(*(one(check) for check in checks))
    return [list(scores) for scores in zip(*per_check, strict=True)] if per_check else [[] for _ in items]


class Screener:
    """Scores joined requests and publishes their verdicts (and judge requests, alerts) in the
    join's transaction."""

    def __init__(self, ctx: StageContext, alerter: Alerter) -> None:
        self.ctx, self.alerter = ctx, alerter
        self.settings = ctx.settings
        self.checks = [create_check(spec.name, **spec.args) for spec in self.settings.screen.checks]
        self.judge_enabled = self.settings.judge.check is not None
        self.reviews_topic = self.settings.topic("rai.reviews")

    async def screen(self, requests: list[tuple[int, JoinedRequest]], checkpoint: Checkpoint) -> None:
        """Publish a verdict per (partition, request) with `checkpoint`."""
        if not requests:
            return
        topics, started = self.ctx.topics, time.time()
        scores = await run_checks(self.checks, [scoring_item(r) for _, r in requests])
        screen_ms = (time.time() - started) * 1000
        metrics, tracing = VerdictMetrics(self.ctx.telemetry, "screen"), self.ctx.telemetry.tracing
        policy = self.ctx.policy  # the set in force, for the whole batch
        verdicts = []
        for (partition, request), item_scores in zip(requests, scores, strict=True):
            latency = {"join_wait": float(request.joined_ms - request.first_seen_ms), "screen": screen_ms}
            verdict = build_verdict(request, item_scores, policy, latency_ms=latency)
            verdicts.append((partition, verdict))
            metrics.add(verdict)
            headers = screen_headers(request.traceparent) if tracing else None
            key = request.request_id.encode()
            await checkpoint.send(topics.verdicts, verdict.model_dump_json().encode(), key=key, headers=headers)
            review = review_reason(verdict, item_scores, policy)
            if review is not None:
                routed_review = review_request(verdict, *review)
                await checkpoint.send(self.reviews_topic, routed_review.model_dump_json().encode(),
                                      key=routed_review.review_id.encode())
            reason = (judge_route(self.settings, request.request_id, verdict.tenant, item_scores, verdict.categories,
                                  policy, [p for result in verdict.checks for p in result.breaks],
                                  self.ctx.risks.elevated)
                      if self.judge_enabled else None)
            if reason:
                routed = JudgeRequest(verdict=verdict, request=request, reason=reason)
                await checkpoint.send(topics.judge, routed.model_dump_json().encode(), key=key, headers=headers)
        metrics.publish_on(checkpoint)
        await self.alerter.publish(verdicts, checkpoint, policy)
