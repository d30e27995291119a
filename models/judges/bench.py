"""Judge throughput: verdicts per second at several batch sizes, load time apart.

Items differ (a counter in the text) so no layer can answer from a response cache; the rubric
prefix is shared, as in production, so prefix caching counts.
"""

from __future__ import annotations

import time
from typing import Any

from ..registry import create_check
from ..scoring import ScoringItem

_OUTPUT = (
    "Sure! Here is a detailed answer to your question about item {i}: first gather the materials, "
    "then follow the steps carefully, and finally check the result twice before using it."
)


async def bench_judge(check: str, args: dict[str, Any], batch_sizes: list[int]) -> dict[str, Any]:
    """Load the judge, warm it up with one item, then time one batch per size."""
    judge = create_check(check, **args)
    started = time.perf_counter()
    await judge.load()  # type: ignore[attr-defined]
    load_s = time.perf_counter() - started
    await judge.score_batch([ScoringItem("warmup", prompt="Hi", output="Hello")])
    rows = []
    counter = 0
    for size in batch_sizes:
        items = [ScoringItem(f"b{counter + i}", prompt=f"Question {counter + i}?", output=_OUTPUT.format(i=counter + i)) for i in range(size)]
        counter += size
        started = time.perf_counter()
        scores = await judge.score_batch(items)
        seconds = time.perf_counter() - started
        rows.append({"batch_size": size, "seconds": round(seconds, 3), "verdicts_per_s": round(size / seconds, 3),
                     "scored": sum(s.scored for s in scores)})
    close = getattr(judge, "close", None)
    if close is not None:
        await close()
    return {"check": judge.check_id, "load_s": round(load_s, 2), "batches": rows}
