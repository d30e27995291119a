"""Throughput of the fast guardrail tier, with the regex/keyword rules as the baseline.

Prints JSON: requests per second for each check at batch sizes 1, 32 and 256, and for the whole
fast tier (every fast check on every request, one after another, as the screen stage runs them),
also with presidio's patterns only (`ner=False`, spaCy being the tier's most expensive step);
with `--workers N`, also the tier's aggregate rate in N processes (one worker per partition).
A request is a held-out prompt and a model answer from the labelled data (a few with PII), so
text lengths and the share that reaches spaCy's NER are realistic: two Kafka messages (one on
rai.prompts, one on rai.outputs), so messages/s = 2 x requests/s, the unit of the issue's
"messages/s" (its pipeline latency target counts 500 messages/s as 250 paired requests/s). Run:
`python -m raiwatch.ops.bench.guardrails` or `raiwatch guardrails bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...models.catalog import RULE_TIER, TRAINED_TIER
from ...models.registry import create_check
from ...models.scoring import Scorer, ScoringItem
from ...streams.policy import redacted_texts

BATCH_SIZES = (1, 32, 256)
BASELINE = RULE_TIER
FAST_TIER = TRAINED_TIER
_PII_SNIPPETS = (" Reach me at jane.doe@example.org.", " My card is 4111 1111 1111 1111.",
                 " Call Maria Lopez on +1 415-555-0132.", " token=ghp_0123456789abcdefghijABCDEFGHIJ012345")


def bench_messages(n: int, seed: int = 7) -> list[ScoringItem]:
    """`n` prompt/output pairs from held-out splits; one in eight carries PII or a secret."""
    from ...trainers.datasets import rho_request_pairs
    from ...trainers.guardrail_data import harm_dataset, injection_dataset

    rng = random.Random(seed)
    prompts = [ex.text for ex in (*injection_dataset(), *harm_dataset()) if ex.split != "train"]
    outputs = [answer for pair in rho_request_pairs() for answer in (pair[1], pair[3])]
    outputs += ["I'm sorry, but I can't help with that.", "Sure! Here is a short summary of the article."]
    items = []
    for i in range(n):
        output = rng.choice(outputs) + (rng.choice(_PII_SNIPPETS) if i % 8 == 0 else "")
        items.append(ScoringItem(request_id=f"bench-{i}", prompt=rng.choice(prompts), output=output))
    return items


async def _rate(checks: Sequence[Scorer], items: Sequence[ScoringItem], batch: int, mask: bool = False) -> float:
    """Requests per second; with `mask`, also the storage masking every verdict's texts get
    (`streams/policy.py: redacted_texts`: the PII check's spans and the storage masker's)."""
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        scores = [await check.score_batch(chunk) for check in checks]
        if mask:
            for i, item in enumerate(chunk):
                redacted_texts(item.prompt or "", item.output or "", [per_check[i] for per_check in scores])
    return round(len(items) / (time.perf_counter() - started), 1)


async def _measure(checks: Sequence[Scorer], items: Sequence[ScoringItem], messages: int) -> dict[str, float]:
    await _rate(checks, items[:64], 32)  # warm-up: first calls allocate and compile regexes
    return {str(b): await _rate(checks, items[: (min(messages, 512) if b == 1 else messages)], b) for b in BATCH_SIZES}


def run_benchmark(messages: int = 2048, model_root: Path | None = None) -> dict[str, Any]:
    """Build every check once, then measure; returns the JSON-ready result."""
    items = bench_messages(messages)
    root_args = {"model_root": str(model_root)} if model_root else {}
    checks = {name: create_check(name) for name in BASELINE}
    checks["pii.presidio"] = create_check("pii.presidio")
    checks["pii.presidio{ner=False}"] = create_check("pii.presidio", ner=False)
    for name in FAST_TIER[1:]:
        checks[name] = create_check(name, **root_args)

    async def measure_all() -> dict[str, Any]:
        per_check = {name: await _measure([check], items, messages) for name, check in checks.items()}
        return {
            "per_check_requests_per_s": per_check,
            "fast_tier_requests_per_s": await _measure([checks[n] for n in FAST_TIER], items, messages),
            "fast_tier_without_ner_requests_per_s": await _measure(
                [checks["pii.presidio{ner=False}"], *(checks[n] for n in FAST_TIER[1:])], items, messages),
            "baseline_rules_requests_per_s": await _measure([checks[n] for n in BASELINE], items, messages),
        }

    result = asyncio.run(measure_all())
    result["setup"] = {
        "requests": messages, "batch_1_requests": min(messages, 512), "cpus": os.cpu_count(),
        "unit": "requests (prompt + output: 2 messages) per second",
        "python": platform.python_version(), "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "fast_tier": list(FAST_TIER), "baseline": list(BASELINE),
        "target_fast_tier_messages_per_s": 2000,
    }
    return result


def _tier_worker(messages: int, part: int, parts: int, model_root: Path | None, barrier: Any,
                 mask: bool = False) -> tuple[int, float]:
    """One worker process, as one Faust worker per partition: the whole tier on its share."""
    items = bench_messages(messages)[part::parts]
    root_args = {"model_root": str(model_root)} if model_root else {}
    checks = [create_check("pii.presidio")] + [create_check(n, **root_args) for n in FAST_TIER[1:]]
    asyncio.run(_rate(checks, items[:64], 32, mask))
    barrier.wait()
    started = time.perf_counter()
    asyncio.run(_rate(checks, items, 256, mask))
    return len(items), time.perf_counter() - started


def run_workers(workers: int, messages: int = 2048, model_root: Path | None = None) -> dict[str, Any]:
    """Aggregate fast-tier throughput of `workers` processes at batch size 256: the checks alone,
    and the checks plus the storage masking of each verdict's prompt and output."""
    import multiprocessing

    # One BLAS thread per worker: N workers on N cores must not each spin up N threads.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    context = multiprocessing.get_context("spawn")
    rates = {}
    with context.Manager() as manager:
        for mask in (False, True):
            barrier = manager.Barrier(workers)
            with context.Pool(workers) as pool:
                results = pool.starmap(_tier_worker,
                                       [(messages, i, workers, model_root, barrier, mask) for i in range(workers)])
            total = sum(n for n, _ in results)
            rates[mask] = total / max(elapsed for _, elapsed in results)
    return {"workers": workers, "batch": 256, "requests": total, "requests_per_s": round(rates[False], 1),
            "messages_per_s": round(2 * rates[False], 1),
            "requests_per_s_with_storage_masking": round(rates[True], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", "--messages", dest="requests", type=int, default=2048,
                        help="requests (prompt + output) per measurement at batch sizes 32 and 256")
    parser.add_argument("--model-root", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=0, help="Also measure the tier in N worker processes.")
    args = parser.parse_args()
    result = run_benchmark(args.requests, args.model_root)
    if args.workers:
        result["fast_tier_workers"] = run_workers(args.workers, args.requests, args.model_root)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
