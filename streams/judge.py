"""The judge stage: routed verdicts -> LLM judge (batched) -> the same verdict id, judge stage.

A transactional loop like the join (`txloop`): the refined verdicts, their alerts, the alert
marks and the judge topic's offsets commit together.
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
from .app import Pipeline, run_loop_task
from .dlq import dead_letter_bytes
from .messages import JudgeRequest
from .screen import run_checks
from .state_store import ChangelogStore
from .txloop import AfterCommit, LoopHandler, LoopSpec, Outbox, TransactionalLoop
from .verdicts import refine_verdict, scoring_item

log = logging.getLogger(__name__)


class JudgeHandler(LoopHandler):
    """Judges routed verdicts in batches and republishes them at the judge stage."""

    def __init__(self, pipeline: Pipeline) -> None:
        settings, topics = pipeline.settings, pipeline.topics
        self.pipeline, self.topics = pipeline, topics
        self.judge_check = create_check(settings.judge_check)
        self.store = ChangelogStore(settings.bootstrap_servers, topics["judge_changelog"])
        self.alerter = Alerter(settings, pipeline.policy, self.store, topics["alerts"])

    async def process(self, records: list[Any], outbox: Outbox) -> AfterCommit:
        started = time.time()
        requests: list[tuple[int, JudgeRequest]] = []
        for record in records:
            try:
                requests.append((record.partition, JudgeRequest.model_validate_json(record.value or b"")))
            except ValidationError as exc:
                await outbox.send(self.topics["dlq"], dead_letter_bytes(
                    record, DeadLetterReason.SCHEMA_VIOLATION, describe_validation_error(exc), "judge"))
        results = await run_checks([self.judge_check], [scoring_item(r.request) for _, r in requests])
        judge_ms = (time.time() - started) * 1000
        verdicts = []
        for (partition, routed), (score,) in zip(requests, results, strict=True):
            screened = routed.verdict
            verdict = refine_verdict(screened, score, self.pipeline.policy,
                                     {**screened.stage_latency_ms, "judge": judge_ms})
            verdicts.append((partition, verdict))
            await outbox.send(self.topics["verdicts"], verdict.model_dump_json().encode(),
                              key=routed.request.request_id.encode())
        return await self.alerter.publish(verdicts, outbox)

    async def tick(self, outbox: Outbox) -> AfterCommit:
        now_ms = int(time.time() * 1000)
        for partition in self.store.owned():
            purge_alert_marks(self.store, partition, now_ms)
        return None


def attach(pipeline: Pipeline) -> None:
    """Run the judge loop in the worker when a judge is configured."""
    settings = pipeline.settings
    if settings.judge_check is None:
        return
    spec = LoopSpec(name="judge", topics=[pipeline.topics["judge"]], group_id=pipeline.group_id("judge"),
                    # window: at most one judge transaction per 50 ms, so the stage's ceiling is
                    # 20 x judge_batch_size verdicts/s (raise the batch size for a GPU judge)
                    max_records=settings.judge_batch_size, window_s=0.05, tick_interval_s=60.0,
                    dlq_topic=pipeline.topics["dlq"])
    run_loop_task(pipeline, "judge", lambda: TransactionalLoop(settings, spec, JudgeHandler(pipeline)))
