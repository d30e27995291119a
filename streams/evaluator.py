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

A run with the dangerous-capability suite is compared with the model's predecessor under every
frontier policy in force (`frontier_watch.py`): a crossing raises a critical alert and reviews.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path

from ..ops.errors import RaiwatchError
from ..ops.settings import RaiwatchSettings
from ..schemas.common import Pillar
from ..schemas.evaluation import EvalRequestV1, EvalResultV1
from ..schemas.policies import PolicyV2
from .frontier_watch import watch_frontier

log = logging.getLogger(__name__)


def resolve_weights(settings: RaiwatchSettings, name: str, checkpoint_path: str = "") -> str:
    """The folder of a model named in a request: the checkpoint path, `eval.models[name]`, or
    the model store entry `name`; raises when none exists."""
    from ..models.model_store import resolve_model

    model = checkpoint_path or settings.eval.models.get(name) or name
    try:
        return str(resolve_model(model, settings.model_path))
    except RaiwatchError as exc:
        raise RaiwatchError(f"no weights for model {name!r}: set eval.models or checkpoint_path ({exc})") from exc


def weights_for(settings: RaiwatchSettings, request: EvalRequestV1) -> tuple[str, str | None]:
    """(model path, adapter path or None) for a request; raises when none."""
    path = Path(resolve_weights(settings, request.model.name, request.checkpoint_path))
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
    from ..trainers.eval_suites import COLLECTED, NOT_BUILT, SUITES
    from ..trainers.evaluation import eval_generator, run_evaluation, store_results
    from ..trainers.redteam_suite import collected_items

    runnable = [s for s in request.suites if s.partition("@")[0] in SUITES or s == COLLECTED]
    skipped = [s for s in request.suites if s not in runnable]
    if skipped:
        log.warning("eval %s: suites %s are %s; running %s", request.eval_id, skipped,
                    "not built yet" if set(skipped) <= NOT_BUILT else "unknown", runnable)
    try:
        if not runnable:
            raise RaiwatchError(f"none of the suites {request.suites} can run")
        model_path, adapter = weights_for(settings, request)
        extra = {COLLECTED: collected_items(settings)} if COLLECTED in runnable else None
        generator = eval_generator(settings, model_path, adapter)
        try:
            run = run_evaluation(settings, request.model, generator, runnable, settings.eval.limit_per_suite,
                                 eval_id=request.eval_id, progress_bar=progress_bar, extra_items=extra)
        finally:
            generator.close()
        results = run.results
    except (RaiwatchError, OSError, ValueError) as exc:
        log.error("eval %s failed: %s", request.eval_id, exc)
        results, run = [failed_result(request, str(exc))], None
    store_results(settings, results)
    if run is not None:
        watch_frontier(settings, run, policies_in_force(settings))
    return results


def policies_in_force(settings: RaiwatchSettings) -> list[PolicyV2]:
    """The policies the workers judge under (the default set and rai.policies); the default
    set alone when Kafka cannot be read."""
    from ..ops.policies import live_policies
    from .policy_reader import effective_policies

    try:
        live = live_policies(settings)
    except RaiwatchError as exc:
        log.warning("%s; frontier policies from the default set", exc)
        live = {}
    return list(effective_policies(live).values())


async def serve(settings: RaiwatchSettings, stop: asyncio.Event, max_jobs: int | None = None) -> int:
    """Consume requests until `stop` is set (or `max_jobs` are done); returns jobs done."""
    from .job_queue import consume_jobs

    def run(settings: RaiwatchSettings, request: EvalRequestV1) -> None:
        log.warning("eval %s: %s on %s (cause %s)", request.eval_id, request.model, request.suites, request.cause)
        run_request(settings, request)

    return await consume_jobs(settings, "rai.eval.requests", "evaluator", EvalRequestV1, run, stop, max_jobs)
