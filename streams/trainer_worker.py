"""`raiwatch trainer`: consume rai.train.requests one job at a time: preference data, DPO with a
LoRA adapter, evaluation of every checkpoint, the promotion gate, the adapter registry.

A job (`run_train_job`):
1. preference pairs from the installed data, the written replies and the violations found in
   traffic, stamped with the request's policy versions, deduplicated, split and versioned;
2. DPO with LoRA on the base model (`trainers/dpo.py`) into `<eval.work_dir>/train/<job_id>`;
3. checkpoint selection on the held-out suites (`trainers/checkpoint_selection.py`);
4. the promotion gate (`trainers/promotion.py`) on the chosen checkpoint against the base model;
5. the adapter in the registry as promoted or rejected, with its numbers.
Each step reports to rai.train.results and `train_results`. The request's offset is committed
only after the job's outcome is stored: a killed trainer runs the job again, and DPO resumes
from its last checkpoint; an adapter is registered once its gate has decided, never half-way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path


from ..ops.errors import RaiwatchError
from ..ops.settings import RaiwatchSettings
from ..schemas.training import TrainRequestV1, TrainResultV1

log = logging.getLogger(__name__)

HELD_OUT_SUITES = ("harmful_behaviours@test", "benign_over_refusal")
RESULT_COLUMNS = ["job_id", "event_time", "status", "adapter_id", "checkpoint_path", "metrics", "message"]


class TrainReporter:
    """Job reports to rai.train.results and the train_results table."""

    def __init__(self, settings: RaiwatchSettings, job_id: str) -> None:
        self.settings, self.job_id = settings, job_id

    def __call__(self, status: str, message: str = "", adapter_id: str = "", checkpoint_path: str = "",
                 metrics: dict[str, float] | None = None) -> TrainResultV1:
        from ..schemas.clickhouse import clickhouse_client

        now = datetime.now(UTC)
        result = TrainResultV1(event_id=hashlib.sha256(f"{self.job_id}|{status}|{now.isoformat()}".encode()).hexdigest()[:32],
                               ts=now, job_id=self.job_id, status=status, adapter_id=adapter_id,
                               checkpoint_path=checkpoint_path, metrics=metrics or {}, message=message[:2000])
        client = clickhouse_client(self.settings)
        try:
            client.insert("train_results", [[self.job_id, now, status, adapter_id, checkpoint_path, result.metrics,
                                             result.message]], column_names=RESULT_COLUMNS)
        finally:
            client.close()
        asyncio.run(_publish(self.settings, result))
        log.warning("train %s: %s %s", self.job_id, status, message)
        return result


async def _publish(settings: RaiwatchSettings, result: TrainResultV1) -> None:
    from ..ops import kafka_clients

    producer = kafka_clients.producer(settings, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic("rai.train.results"), result.model_dump_json().encode(),
                                     key=result.job_id.encode())
    finally:
        await producer.stop()


def run_train_job(settings: RaiwatchSettings, request: TrainRequestV1) -> TrainResultV1:
    """Run one job to its outcome (promoted, rejected or failed)."""
    from ..models.adapter_registry import AdapterRecord, AdapterRegistry
    from ..trainers.checkpoint_selection import evaluate_checkpoints
    from ..trainers.dpo import DPORunConfig, train_dpo
    from ..trainers.preference_data import finalize, installed_pairs, save_pairs, traffic_pairs
    from ..trainers.promotion import promotion_gate
    from .evaluator import resolve_weights

    report = TrainReporter(settings, request.job_id)
    if request.method != "dpo":
        return report("failed", f"method {request.method!r} is not built yet (dpo is)")
    try:
        base = resolve_weights(settings, request.base_model.name)
        params = dict(request.params)
        work = settings.eval.work_path / "train" / request.job_id
        report("started", f"base {base}")
        sampled = on_policy(settings, base)
        pairs, version = finalize([*installed_pairs(), *traffic_pairs(settings), *sampled], request.policy_versions)
        save_pairs(pairs, version, work)
        report("progress", f"preference data {version}", metrics={
            "pairs": float(len(pairs)), "on_policy_pairs": float(sum(p.kind == "on_policy" for p in pairs))})
        defaults = DPORunConfig()
        config = DPORunConfig(base_model=base, max_steps=int(params.get("max_steps", defaults.max_steps)),
                              batch_size=int(params.get("batch_size", defaults.batch_size)),
                              save_steps=int(params.get("save_steps", defaults.save_steps)),
                              learning_rate=float(params.get("learning_rate", defaults.learning_rate)),
                              sft_weight=float(params.get("sft_weight", defaults.sft_weight)),
                              max_length=int(params.get("max_length", defaults.max_length)))
        summary = train_dpo(settings, config, pairs, work / "run")
        report("progress", f"trained to step {summary['global_step']}" +
               (f" (resumed from {Path(summary['resumed_from']).name})" if summary["resumed_from"] else ""))
        decision = evaluate_checkpoints(settings, work / "run", base, job_id=request.job_id, suites=HELD_OUT_SUITES,
                                        limit=int(params.get("eval_limit", settings.eval.limit_per_suite)))
        if decision.chosen is None:
            return report("rejected", decision.reason)
        gate = promotion_gate(decision.baseline, decision.chosen, settings.eval.max_over_refusal_increase)
        adapter_id = f"{request.job_id}-step{decision.chosen.step}"
        record = AdapterRecord(
            adapter_id=adapter_id, base_model=base, model_name=request.base_model.name,
            version=f"{request.base_model.version}+{adapter_id}" if request.base_model.version else adapter_id,
            path=decision.chosen.path, job_id=request.job_id, data_version=version,
            policy_versions=dict(request.policy_versions), metrics=gate.numbers,
            status="candidate", reason=gate.reason)
        registry = AdapterRegistry(settings)
        registry.save(record)
        if gate.promote:
            registry.promote(adapter_id, gate.reason)
            return report("promoted", gate.reason, adapter_id, decision.chosen.path, gate.numbers)
        registry.save(AdapterRecord(**{**record.__dict__, "status": "rejected"}))
        return report("rejected", gate.reason, adapter_id, decision.chosen.path, gate.numbers)
    except (RaiwatchError, OSError, ValueError) as exc:
        return report("failed", str(exc))


def on_policy(settings: RaiwatchSettings, base: str) -> list:
    """Pairs from the base model's own sampled replies, ranked by the reward model and the judge
    (`train.*` settings); none unless `train.on_policy_prompts` and a ranker are set."""
    from ..models.generators import TransformersGenerator
    from ..models.registry import create_check
    from ..trainers.preference_data import finalize, installed_pairs, on_policy_pairs

    config = settings.train
    rankers = []
    if config.reward_adapter and config.reward_weight > 0:
        rankers.append((create_check("reward.model", adapter=config.reward_adapter, base=base), config.reward_weight))
    if settings.judge.check is not None and config.judge_weight > 0:
        rankers.append((create_check(settings.judge.check.name, **settings.judge.check.args), config.judge_weight))
    if not config.on_policy_prompts or not rankers:
        return []
    prompts = list(dict.fromkeys(p.prompt for p in finalize(installed_pairs())[0] if p.split == "train"))
    prompts = prompts[:config.on_policy_prompts]
    generator = TransformersGenerator(base, max_new_tokens=settings.eval.max_new_tokens, batch_size=settings.eval.batch_size,
                                      dtype=settings.eval.dtype)
    try:
        samples = generator.sample([[{"role": "user", "content": p}] for p in prompts], config.on_policy_k)
    finally:
        generator.close()
    return on_policy_pairs(prompts, samples, rankers, config.margin)


async def serve(settings: RaiwatchSettings, stop: asyncio.Event, max_jobs: int | None = None) -> int:
    """Consume training requests until `stop` (or `max_jobs` done); returns jobs done."""
    from .job_queue import consume_jobs

    return await consume_jobs(settings, "rai.train.requests", "trainer", TrainRequestV1, run_train_job, stop, max_jobs)
