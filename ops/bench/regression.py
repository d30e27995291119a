"""The regression watch's detectors on synthetic streams (fixed seeds): detection delay and power
against the fixed-size test's sample size, and false alarms of one key and of fifty at once.

    python -m raiwatch.ops.bench.regression [--runs 400] [--family-runs 400] [--batch 50] [--json]
        [--eval-throughput [--eval-items 32]]

Delays are in candidate messages, counted at the batch boundary where the alarm is raised (the
watch updates per batch: a minute in the stream, `--batch` candidate messages here). The
yardstick is the per-arm size of a one-shot two-sided z-test for 1% -> 2% at alpha 0.01 and
power 0.9 (`fixed_sample_size`, about 4,400).

Scenarios:
- `equal`: candidate and baseline with equal concurrent traffic, 1% -> 2%.
- `canary`: the baseline carries 10x the candidate's traffic, 1% -> 2%.
- `family`: fifty keys (tenant x pillar x category) at once, alpha split across them
  (Bonferroni), 1,000,000 messages in all (10,000 candidate + 10,000 baseline per key): the
  family-wise false-alarm rate with no change, and the delay of one key jumping 1% -> 2%;
  beside it, a naive fixed-size z-test repeated every 1,000 messages of a key.
- `cusum`: one version drifting 1% -> 2% after its reference period, and its false alarms
  without drift (the watch's default CUSUM settings).
- other effects: 1% -> 1.5% and 1% -> 3% with equal traffic (the mixture is centred on 2x).
- `--eval-throughput`: evaluation items per second (generated, 64 new tokens, and scored) on
  SmolLM2-135M, transformers beside vLLM in process.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from scipy.stats import norm

from ...ops.settings import RegressionSettings
from ...streams.detectors import BernoulliCusum, RateRatioTest, fixed_sample_size

P0, P1, ALPHA = 0.01, 0.02, 0.01


def _detect(rng: np.random.Generator, p_c: float, p_b: float, batch: int, baseline_factor: int,
            horizon: int, alpha: float) -> int | None:
    """Candidate messages until the test rejects, or None within `horizon`."""
    test = RateRatioTest(alpha=alpha)
    batches = horizon // batch
    e_c = rng.binomial(batch, p_c, batches)
    e_b = rng.binomial(batch * baseline_factor, p_b, batches)
    for i in range(batches):
        test.update(int(e_c[i]), batch, int(e_b[i]), batch * baseline_factor)
        if e_c[i] and test.rejected:  # evidence only rises with a candidate event
            return (i + 1) * batch
    return None


def _delays(seed: int, runs: int, batch: int, baseline_factor: int, horizon: int, alpha: float,
            p1: float = P1) -> dict:
    rng = np.random.default_rng(seed)
    found = [_detect(rng, p1, P0, batch, baseline_factor, horizon, alpha) for _ in range(runs)]
    hits = [d for d in found if d is not None]
    censored = [d if d is not None else horizon for d in found]
    return {"runs": runs, "power_within_horizon": round(len(hits) / runs, 4),
            "mean_delay_detected": round(float(np.mean(hits)), 1) if hits else None,
            "mean_delay_censored_at_horizon": round(float(np.mean(censored)), 1),
            "median_delay": float(np.median(censored))}


def _naive_repeated(rng: np.random.Generator, per_arm: int, every: int, alpha: float) -> bool:
    """A two-sided two-proportion z-test on the cumulative counts after every `every` messages
    of the key (`every / 2` per arm): True when any look rejects."""
    half = every // 2
    looks = per_arm // half
    e_c = np.cumsum(rng.binomial(half, P0, looks))
    e_b = np.cumsum(rng.binomial(half, P0, looks))
    n = half * np.arange(1, looks + 1)
    pooled = (e_c + e_b) / (2 * n)
    se = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * 2 / n)
    z = np.abs(e_c / n - e_b / n) / se
    return bool((z >= norm.ppf(1 - alpha / 2)).any())


def _family(seed: int, runs: int, batch: int, keys: int, messages: int, fixed: int) -> dict:
    rng = np.random.default_rng(seed)
    per_arm = messages // keys // 2
    alpha_key = ALPHA / keys
    family_alarms = key_alarms = naive_family = 0
    for _ in range(runs):
        alarms = sum(_detect(rng, P0, P0, batch, 1, per_arm, alpha_key) is not None for _ in range(keys))
        key_alarms += alarms
        family_alarms += alarms > 0
        naive_family += any(_naive_repeated(rng, per_arm, 1000, ALPHA) for _ in range(keys))
    jump = _delays(seed + 1, runs, batch, 1, 3 * fixed, alpha_key)
    return {"keys": keys, "messages": messages, "runs": runs, "alpha_per_key": alpha_key,
            "family_wise_false_alarm_rate": round(family_alarms / runs, 4),
            "per_key_false_alarm_rate": key_alarms / (runs * keys),
            "naive_repeated_z_test_family_false_alarm_rate": round(naive_family / runs, 4),
            "one_key_jumps": jump}


def _cusum(seed: int, runs: int, batch: int, reference: int, horizon: int) -> dict:
    """The watch's defaults (`RegressionSettings`): a rise of `drift_ratio` over the reference."""
    config = RegressionSettings()
    rng = np.random.default_rng(seed)
    delays, false_alarms = [], 0
    for _ in range(runs):
        drift, steady = (BernoulliCusum(ratio=config.drift_ratio, alpha=config.drift_alpha, reference_requests=reference),
                         BernoulliCusum(ratio=config.drift_ratio, alpha=config.drift_alpha, reference_requests=reference))
        for i in range(reference // batch):
            drift.update(int(rng.binomial(batch, P0)), batch)
            steady.update(int(rng.binomial(batch, P0)), batch)
        found = None
        for i in range(horizon // batch):
            if found is None and drift.update(int(rng.binomial(batch, P1)), batch):
                found = (i + 1) * batch
            if steady.update(int(rng.binomial(batch, P0)), batch):
                false_alarms += 1
        delays.append(found if found is not None else horizon)
    return {"runs": runs, "reference_requests": reference, "horizon": horizon, "alpha": config.drift_alpha,
            "mean_delay_after_drift": round(float(np.mean(delays)), 1),
            "power_within_horizon": round(sum(d < horizon for d in delays) / runs, 4),
            "false_alarms_per_million_messages": round(false_alarms / (runs * horizon) * 1e6, 2)}


def run(runs: int = 400, family_runs: int = 400, batch: int = 50, seed: int = 7) -> dict:
    started = time.time()
    fixed = fixed_sample_size(P0, P1, ALPHA, 0.9)
    equal = _delays(seed, runs, batch, 1, 3 * fixed, ALPHA)
    canary = _delays(seed + 10, runs, batch, 10, 3 * fixed, ALPHA)
    family = _family(seed + 20, family_runs, batch, 50, 1_000_000, fixed)
    cusum = _cusum(seed + 30, max(runs // 4, 20), batch, 5000, 20_000)
    # The mixture is centred on a doubling; smaller and larger jumps are found too.
    other = {f"1% -> {p1:.1%}": _delays(seed + 40 + i, max(runs // 2, 20), batch, 1, 3 * fixed_sample_size(P0, p1), ALPHA, p1)
             | {"fixed_sample_size_per_arm": fixed_sample_size(P0, p1)}
             for i, p1 in enumerate((0.015, 0.03))}

    def ratio(result: dict) -> float:
        return round(result["mean_delay_censored_at_horizon"] / fixed, 3)

    return {
        "fixed_sample_size_per_arm": fixed, "batch_candidate_messages": batch, "seed": seed,
        "equal": {**equal, "delay_over_fixed": ratio(equal), "target": "<= 0.9, power >= 0.9 within 3x"},
        "canary_baseline_10x": {**canary, "delay_over_fixed": ratio(canary), "target": "<= 0.6"},
        "family_50_keys": {**family, "one_key_delay_over_fixed": ratio(family["one_key_jumps"]),
                           "target": "family-wise false alarms <= 0.01, delay <= 1.3"},
        "cusum_drift": cusum,
        "other_effects_equal_traffic": other,
        "seconds": round(time.time() - started, 1),
    }


def eval_throughput(items: int = 32, backends: tuple[str, ...] = ("transformers", "vllm")) -> dict:
    """Items per second generated (64 new tokens) and scored, SmolLM2-135M, each backend in a
    fresh process (vLLM spawns engine processes and keeps the cores busy)."""
    import subprocess
    import sys

    out = {}
    for backend in backends:
        done = subprocess.run([sys.executable, "-m", "raiwatch.ops.bench.regression", "--eval-worker", backend,
                               "--eval-items", str(items)], capture_output=True, text=True, timeout=1800)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        out[backend] = json.loads(lines[-1]) if done.returncode == 0 and lines else {"error": done.stderr[-800:]}
    return out


def _eval_worker(backend: str, items: int) -> dict:
    import tempfile

    from ...models.generators import create_generator
    from ...ops.settings import RaiwatchSettings
    from ...schemas.common import ModelRef
    from ...trainers.eval_suites import load_suite
    from ...trainers.evaluation import score_replies

    settings = RaiwatchSettings().replace(eval__work_dir=tempfile.mkdtemp())
    chosen = load_suite("harmful_behaviours", items // 2) + load_suite("benign_over_refusal", items - items // 2)
    started = time.perf_counter()
    options = {"batch_size": 8} if backend == "transformers" else {}
    generator = create_generator(backend, "smollm2-135m-instruct", max_new_tokens=64, **options)
    loaded = time.perf_counter()
    replies = dict(zip((i.item_id for i in chosen), generator.generate([i.chat() for i in chosen]), strict=True))
    generated = time.perf_counter()
    score_replies(settings, chosen, replies, ModelRef(name="smollm2"))
    scored = time.perf_counter()
    return {"items": len(chosen), "max_new_tokens": 64, "load_s": round(loaded - started, 1),
            "generate_s": round(generated - loaded, 1), "score_s": round(scored - generated, 1),
            "items_per_s": round(len(chosen) / (scored - loaded), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--family-runs", type=int, default=400)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--eval-throughput", action="store_true", help="Also measure evaluation throughput "
                        "(SmolLM2-135M, transformers beside vLLM in process; several minutes).")
    parser.add_argument("--eval-items", type=int, default=32)
    parser.add_argument("--eval-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.eval_worker:
        print(json.dumps(_eval_worker(args.eval_worker, args.eval_items)))
        return
    result = run(args.runs, args.family_runs, args.batch, args.seed)
    if args.eval_throughput:
        result["eval_throughput"] = eval_throughput(args.eval_items)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
