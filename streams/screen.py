"""The screen agent: micro-batches of joined requests -> every configured check -> verdicts.

Checks run concurrently on the whole batch through the scoring interface; a check that fails
yields unscored results (recorded in the verdict), never a crash. Verdicts go to rai.verdicts;
those the routing rule picks also go to the judge stage.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pydantic import ValidationError

from ..models.registry import create_check
from ..models.scoring import Score, Scorer, ScoringItem
from ..schemas.dead_letters import DeadLetterReason
from ..schemas.decoder import describe_validation_error
from .app import Pipeline
from .dlq import send_dead_letter
from .messages import JoinedRequest, JudgeRequest
from .policy import judge_route
from .verdicts import build_verdict, scoring_item

log = logging.getLogger(__name__)


async def run_checks(checks: list[Scorer], items: list[ScoringItem]) -> list[list[Score]]:
    """Scores per item (one per check); a check that raises gives unscored results for all."""

    async def one(check: Scorer) -> list[Score]:
        try:
            scores = await check.score_batch(items)
            if len(scores) != len(items):
                raise RuntimeError(f"returned {len(scores)} scores for {len(items)} items")
            return scores
        except Exception as exc:  # noqa: BLE001 - a broken check must not stop the stream
            log.exception("check %s failed on a batch of %d", check.check_id, len(items))
            return [Score.unscored(check.check_id, check.pillar, f"{type(exc).__name__}: {exc}") for _ in items]

    per_check = await asyncio.gather(*(one(check) for check in checks))
    return [list(scores) for scores in zip(*per_check, strict=True)] if per_check else [[] for _ in items]


def attach(pipeline: Pipeline) -> None:
    settings, app = pipeline.settings, pipeline.app
    checks = [create_check(name) for name in settings.screen_checks]
    judge_enabled = settings.judge_check is not None
    topics = pipeline.topics

    @app.agent(topics["joined"], name="screen")
    async def screen(stream):
        async for events in stream.take_events(settings.screen_batch_size, within=settings.screen_batch_window_s):
            started = time.time()
            deliveries, requests = [], []
            for event in events:
                try:
                    requests.append(JoinedRequest.model_validate_json(event.message.value))
                except ValidationError as exc:
                    deliveries.append(await send_dead_letter(
                        topics["dlq"], event.message, DeadLetterReason.SCHEMA_VIOLATION,
                        describe_validation_error(exc), "screen"))
            scores = await run_checks(checks, [scoring_item(r) for r in requests])
            screen_ms = (time.time() - started) * 1000
            for request, item_scores in zip(requests, scores, strict=True):
                latency = {"join_wait": float(request.joined_ms - request.first_seen_ms),
                           "queue": max(0.0, started * 1000 - request.joined_ms), "screen": screen_ms}
                verdict = build_verdict(request, item_scores, pipeline.policy, latency_ms=latency)
                key = request.request_id.encode()
                deliveries.append(await topics["verdicts"].send(key=key, value=verdict.model_dump_json().encode(), force=True))
                reason = judge_route(settings, request.request_id, verdict.tenant, item_scores, verdict.categories) if judge_enabled else None
                if reason:
                    judge_request = JudgeRequest(verdict=verdict, request=request, reason=reason)
                    deliveries.append(await topics["judge"].send(key=key, value=judge_request.model_dump_json().encode(), force=True))
            await asyncio.gather(*deliveries)
