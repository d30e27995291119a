"""`raiwatch evaluator`: consume rai.eval.requests one job at a time and run each through the
evaluation harness (`trainers/evaluation.py`).

One job at a time, because a job holds a model in memory and the machine's cores: a consumer
in group `<app>-evaluator` fetches one request, runs it, stores its results (eval_results and
rai.eval.results), and only then commits the request's offset. A worker killed mid-job reads
the same request again on restart, and the harness resumes from the replies it had written
(same eval id, same folder); results are keyed by the eval id, so a job run twice stores them
once. A request that cannot run (no weights for the model, an unknown suite) gets a result with
status "failed" and the reason, and is committed: it is not retried forever.

Which weights: the request's `checkpoint_path` if set; else `eval.models[model.name]`; else
the model store entry of that name. An adapter (`model.adapter`) is a folder under the
checkpoint's or the store's path, or a path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..ops.errors import RaiwatchError
from ..ops.settings import RaiwatchSettings
from ..schemas.common import Pillar
from ..schemas.evaluation import EvalRequestV1, EvalResultV1

log = logging.getLogger(__name__)


def weights_for(settings: RaiwatchSettings, request: EvalRequestV1) -> tuple[str, str | None]:
    """(model path or store name, adapter path or None) for a request; raises when none."""
    from ..models.model_store import resolve_model

    model = request.checkpoint_path or settings.eval.models.get(request.model.name) or request.model.name
    try:
        path = resolve_model(model, settings.model_path)
    except RaiwatchError as exc:
        raise RaiwatchError(f"no weights for model {request.model.name!r}: set eval.models or checkpoint_path "
                            f"({exc})") from exc
    adapter = None
    if request.model.adapter:
        candidates = [Path(request.model.adapter).expanduser(), path / request.model.adapter,
                      settings.model_path / request.model.adapter]
        found = next((c for c in candidates if (c / "adapter_config.json").is_file()), None)
        if found is None:
            raise RaiwatchError(f"adapter {request.model.adapter!r} not found (looked in {', '.join(map(str, candidates))})")
        adapter = str(found)
    return str(path), adapter


def failed_result(request: EvalRequestV1, reason: str) -> EvalResultV1:
    result_id = hashlib.sha256(f"{request.eval_id}|failed".encode()).hexdigest()[:32]
    return EvalResultV1(event_id=result_id, ts=datetime.now(UTC), eval_id=request.eval_id, model=request.model,
                        suite=",".join(request.suites), pillar=Pillar.GOVERNANCE, metric="run", value=0.0, n=0,
                        status="failed", detail=reason[:2000])


def run_request(settings: RaiwatchSettings, request: EvalRequestV1, progress_bar: bool = False) -> list[EvalResultV1]:
    """Run one request to its results (failed ones included); stores them."""
    from ..models.generators import create_generator
    from ..trainers.eval_suites import COLLECTED, NOT_BUILT, SUITES
    from ..trainers.evaluation import run_evaluation, store_results
    from ..trainers.redteam_suite import collected_items

    runnable = [s for s in request.suites if s in SUITES or s == COLLECTED]
    skipped = [s for s in request.suites if s not in runnable]
    if skipped:
        log.warning("eval %s: suites %s are %s; running %s", request.eval_id, skipped,
                    "not built yet" if set(skipped) <= NOT_BUILT else "unknown", runnable)
    try:
        if not runnable:
            raise RaiwatchError(f"none of the suites {request.suites} can run")
        model_path, adapter = weights_for(settings, request)
        options: dict[str, Any] = {"max_new_tokens": settings.eval.max_new_tokens}
        if settings.eval.backend == "transformers":
            options["batch_size"] = settings.eval.batch_size
        if settings.eval.backend == "openai":
            options["base_url"] = settings.eval.base_url
        extra = {COLLECTED: collected_items(settings)} if COLLECTED in runnable else None
        generator = create_generator(settings.eval.backend, model_path, adapter, **options)
        try:
            run = run_evaluation(settings, request.model, generator, runnable, settings.eval.limit_per_suite,
                                 eval_id=request.eval_id, progress_bar=progress_bar, extra_items=extra)
        finally:
            generator.close()
        results = run.results
    except (RaiwatchError, OSError, ValueError) as exc:
        log.error("eval %s failed: %s", request.eval_id, exc)
        results = [failed_result(request, str(exc))]
    store_results(settings, results)
    return results


async def serve(settings: RaiwatchSettings, stop: asyncio.Event, max_jobs: int | None = None) -> int:
    """Consume requests until `stop` is set (or `max_jobs` are done); returns jobs done."""
    from ..ops import kafka_clients

    consumer = kafka_clients.consumer(settings, settings.topic("rai.eval.requests"),
                                      group_id=f"{settings.kafka.topic_prefix}{settings.stages.app_id}-evaluator",
                                      enable_auto_commit=False, auto_offset_reset="earliest",
                                      isolation_level="read_committed", max_poll_records=1,
                                      max_poll_interval_ms=6 * 3600 * 1000)
    await consumer.start()
    done = 0
    try:
        while not stop.is_set() and (max_jobs is None or done < max_jobs):
            batches = await consumer.getmany(timeout_ms=1000, max_records=1)
            for tp, records in batches.items():
                for record in records:
                    try:
                        request = EvalRequestV1.model_validate_json(record.value or b"")
                    except ValidationError as exc:
                        log.error("rai.eval.requests[%d]@%d is not an eval request: %s", tp.partition, record.offset, exc)
                    else:
                        log.warning("eval %s: %s on %s (cause %s)", request.eval_id, request.model, request.suites,
                                    request.cause)
                        await asyncio.to_thread(run_request, settings, request)
                        done += 1
                    await consumer.commit({tp: record.offset + 1})
    finally:
        await consumer.stop()
    return done
