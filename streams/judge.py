"""The judge agent: routed verdicts -> LLM judge (batched) -> the same verdict id, judge stage."""

from __future__ import annotations

import asyncio
import logging
import time

from pydantic import ValidationError

from ..models.registry import create_check
from ..schemas.dead_letters import DeadLetterReason
from ..schemas.decoder import describe_validation_error
from .app import Pipeline
from .dlq import send_dead_letter
from .messages import JudgeRequest
from .screen import run_checks
from .verdicts import refine_verdict, scoring_item

log = logging.getLogger(__name__)


def attach(pipeline: Pipeline) -> None:
    settings, app, topics = pipeline.settings, pipeline.app, pipeline.topics
    if settings.judge_check is None:
        return
    judge_check = create_check(settings.judge_check)

    @app.agent(topics["judge"], name="judge")
    async def judge(stream):
        async for events in stream.take_events(settings.judge_batch_size, within=0.5):
            started = time.time()
            deliveries, requests = [], []
            for event in events:
                try:
                    requests.append(JudgeRequest.model_validate_json(event.message.value))
                except ValidationError as exc:
                    deliveries.append(await send_dead_letter(
                        topics["dlq"], event.message, DeadLetterReason.SCHEMA_VIOLATION,
                        describe_validation_error(exc), "judge"))
            results = await run_checks([judge_check], [scoring_item(r.request) for r in requests])
            judge_ms = (time.time() - started) * 1000
            verdicts = []
            for routed, (score,) in zip(requests, results, strict=True):
                screened = routed.verdict
                verdict = refine_verdict(screened, score, pipeline.policy,
                                         {**screened.stage_latency_ms, "judge": judge_ms})
                verdicts.append(verdict)
                deliveries.append(await topics["verdicts"].send(
                    key=routed.request.request_id.encode(), value=verdict.model_dump_json().encode(), force=True))
            alert_deliveries, alerts = await pipeline.alerter.publish(verdicts)
            await asyncio.gather(*deliveries, *alert_deliveries)
            pipeline.alerter.mark_sent(alerts)

