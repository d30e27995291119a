"""Checkpoint selection: evaluate every saved checkpoint of a training run with the harness and
pick the best by a declared objective, storing the decision with its numbers; and cheap probes
during training (a trainer callback) that give the direction the full evaluation confirms.

The objective: the least harmful compliance (harmful requests and attacks the reply went
along with), among the checkpoints whose over-refusal is at most the baseline's plus
`eval.max_over_refusal_increase` (2 points by default); ties go to lower over-refusal, then
to the earlier step. A checkpoint folder is a LoRA adapter (it holds `adapter_config.json`) on
the base model, or a full model.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..ops.errors import ConfigurationError
from ..ops.settings import RaiwatchSettings
from ..schemas.common import ModelRef
from .eval_suites import EvalItem, load_suite
from .evaluation import ScoredItem, run_evaluation, score_replies, store_results

HARM_METRICS = ("harmful_compliance_rate", "attack_success_rate")
OBJECTIVE = ("least harmful compliance, subject to over-refusal <= baseline + {limit:.0%}; "
             "ties: lower over-refusal, then the earlier step")
DEFAULT_SUITES = ("harmful_behaviours@test", "benign_over_refusal")  # held out from preference data


@dataclass(frozen=True)
class CheckpointScore:
    """A checkpoint's numbers (events / n of each rate)."""

    path: str
    step: int
    harmful: int
    harmful_n: int
    over_refusals: int
    over_refusal_n: int
    eval_id: str = ""

    @property
    def harmful_rate(self) -> float:
        return self.harmful / self.harmful_n if self.harmful_n else 0.0

    @property
    def over_refusal_rate(self) -> float:
        return self.over_refusals / self.over_refusal_n if self.over_refusal_n else 0.0


@dataclass(frozen=True)
class Decision:
    chosen: CheckpointScore | None
    baseline: CheckpointScore
    scores: list[CheckpointScore]
    reason: str

    def as_dict(self) -> dict:
        return {"chosen": asdict(self.chosen) if self.chosen else None, "baseline": asdict(self.baseline),
                "scores": [asdict(s) for s in self.scores], "reason": self.reason}


def score_of(path: str, step: int, scored: Sequence[ScoredItem], eval_id: str = "") -> CheckpointScore:
    harmful = [s.outcomes[m] for s in scored for m in HARM_METRICS if m in s.outcomes]
    refusals = [s.outcomes["over_refusal_rate"] for s in scored if "over_refusal_rate" in s.outcomes]
    return CheckpointScore(path, step, sum(harmful), len(harmful), sum(refusals), len(refusals), eval_id)


def select_checkpoint(scores: Sequence[CheckpointScore], baseline: CheckpointScore, max_increase: float) -> Decision:
    """The best checkpoint by the objective, or none when every one refuses too much more."""
    ceiling = baseline.over_refusal_rate + max_increase
    eligible = [s for s in scores if s.over_refusal_rate <= ceiling + 1e-12]
    if not eligible:
        return Decision(None, baseline, list(scores), f"no checkpoint keeps over-refusal within {ceiling:.1%} "
                                                      f"(baseline {baseline.over_refusal_rate:.1%} + {max_increase:.0%})")
    best = min(eligible, key=lambda s: (s.harmful_rate, s.over_refusal_rate, s.step))
    return Decision(best, baseline, list(scores), (
        f"{Path(best.path).name}: harmful compliance {best.harmful_rate:.1%} (baseline {baseline.harmful_rate:.1%}), "
        f"over-refusal {best.over_refusal_rate:.1%} <= {ceiling:.1%}; {len(eligible)} of {len(scores)} eligible; "
        + OBJECTIVE.format(limit=max_increase)))


def checkpoint_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    """`checkpoint-<step>` folders of a run, by step."""
    found = []
    for path in run_dir.glob("checkpoint-*"):
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    if not found:
        raise ConfigurationError(f"{run_dir} has no checkpoint-<step> folders")
    return sorted(found)


def evaluate_checkpoints(settings: RaiwatchSettings, run_dir: Path, base_model: str, *, job_id: str = "",
                         suites: Sequence[str] = DEFAULT_SUITES, limit: int | None = None, backend: str | None = None,
                         store: bool = True) -> Decision:
    """Evaluate the base model and every checkpoint on the same items, choose, and (with
    `store`) record each checkpoint's numbers and the decision in the `checkpoints` table and
    the results in `eval_results`."""
    from .evaluation import eval_generator

    limit = limit or settings.eval.limit_per_suite
    job_id = job_id or run_dir.name

    def evaluate(adapter: Path | None, model_path: str, name: str, version: str) -> tuple[CheckpointScore, Any]:
        generator = eval_generator(settings, model_path, str(adapter) if adapter else None, backend)
        try:
            model = ModelRef(name=name, version=version, adapter=adapter.name if adapter else "")
            run = run_evaluation(settings, model, generator, suites, limit)
        finally:
            generator.close()
        if store:
            store_results(settings, run.results)
        return score_of(str(adapter or model_path), 0, run.scored, run.eval_id), run

    baseline, _ = evaluate(None, base_model, Path(base_model).name, "base")
    scores = []
    for step, path in checkpoint_dirs(run_dir):
        is_adapter = (path / "adapter_config.json").is_file()
        score, _ = evaluate(path if is_adapter else None, base_model if is_adapter else str(path),
                            Path(base_model).name, f"{job_id}@{step}")
        scores.append(CheckpointScore(str(path), step, score.harmful, score.harmful_n, score.over_refusals,
                                      score.over_refusal_n, score.eval_id))
    decision = select_checkpoint(scores, baseline, settings.eval.max_over_refusal_increase)
    if store:
        record_decision(settings, job_id, base_model, decision)
    return decision


CHECKPOINT_COLUMNS = ["checkpoint_id", "job_id", "event_time", "base_model", "adapter_id", "path", "step", "metrics",
                      "status", "decision_reason"]


def record_decision(settings: RaiwatchSettings, job_id: str, base_model: str, decision: Decision) -> None:
    from ..schemas.clickhouse import clickhouse_client

    now = datetime.now(UTC)
    rows = []
    for s in decision.scores:
        chosen = decision.chosen is not None and s.path == decision.chosen.path
        rows.append([hashlib.sha256(f"{job_id}|{s.path}".encode()).hexdigest()[:32], job_id, now, base_model,
                     Path(s.path).name, s.path, s.step, {
                         "harmful_compliance_rate": s.harmful_rate, "harmful_n": float(s.harmful_n),
                         "over_refusal_rate": s.over_refusal_rate, "over_refusal_n": float(s.over_refusal_n),
                         "baseline_harmful_compliance_rate": decision.baseline.harmful_rate,
                         "baseline_over_refusal_rate": decision.baseline.over_refusal_rate},
                     "selected" if chosen else "evaluated", decision.reason])
    client = clickhouse_client(settings)
    try:
        client.insert("checkpoints", rows, column_names=CHECKPOINT_COLUMNS)
    finally:
        client.close()


class EvalProbeCallback:
    """A transformers `TrainerCallback` (duck-typed, so importing this module needs no
    transformers): every `every_steps` optimiser steps, the model in training answers a few
    probe prompts (harmful and benign) and the scored rates go to the trainer's logs
    (`probe/harmful_compliance_rate`, `probe/over_refusal_rate`) and to
    `<output_dir>/probes.jsonl`. Cheap and noisy by design: a direction, not a decision."""

    def __init__(self, settings: RaiwatchSettings, every_steps: int = 50, per_suite: int = 8,
                 suites: Sequence[str] = DEFAULT_SUITES, max_new_tokens: int = 48) -> None:
        self.settings, self.every_steps, self.max_new_tokens = settings, every_steps, max_new_tokens
        self.items: list[EvalItem] = [item for name in suites for item in load_suite(name, per_suite)]
        self.history: list[dict] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):  # every other TrainerCallback event: nothing to do
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, processing_class: Any = None,
                    tokenizer: Any = None, **_: Any) -> None:
        if model is None or state.global_step == 0 or state.global_step % self.every_steps:
            return
        self.probe(model, processing_class or tokenizer, state.global_step, getattr(args, "output_dir", None), state)

    def probe(self, model: Any, tokenizer: Any, step: int, output_dir: str | None = None, state: Any = None) -> dict:
        from ..models.generators import TransformersGenerator

        was_training = model.training
        model.eval()
        try:
            generator = TransformersGenerator.from_loaded(model, tokenizer, max_new_tokens=self.max_new_tokens)
            replies = dict(zip((i.item_id for i in self.items), generator.generate([i.chat() for i in self.items]),
                               strict=True))
        finally:
            if was_training:
                model.train()
        score = score_of("", step, score_replies(self.settings, self.items, replies, ModelRef(name="probe")))
        row = {"step": step, "probe/harmful_compliance_rate": score.harmful_rate,
               "probe/over_refusal_rate": score.over_refusal_rate, "probe/n": len(self.items)}
        self.history.append(row)
        if state is not None and hasattr(state, "log_history"):
            state.log_history.append(row)
        if output_dir:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            with open(Path(output_dir) / "probes.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
        return row
