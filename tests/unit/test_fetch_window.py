"""`fetch_window`'s batching rule, against a scripted stand-in for aiokafka's `getmany` (the
real consumer is exercised by the pipeline's integration tests)."""

from __future__ import annotations

import asyncio
import time

from raiwatch.streams.runtime.fetch import fetch_window


class ScriptedConsumer:
    """Releases each scripted batch at its time (seconds after creation), like a fetch buffer
    that fills as records arrive."""

    def __init__(self, arrivals: list[tuple[float, dict[str, list[int]]]]) -> None:
        self.started = time.monotonic()
        self.arrivals = sorted(arrivals, key=lambda a: a[0])
        self.calls: list[int] = []

    async def getmany(self, *partitions, timeout_ms: int, max_records: int) -> dict[str, list[int]]:
        self.calls.append(timeout_ms)
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            due = [a for a in self.arrivals if self.started + a[0] <= time.monotonic()]
            if due:
                self.arrivals.remove(due[0])
                batch = due[0][1]
                taken = {tp: records[:max_records] for tp, records in batch.items()}
                return {tp: records for tp, records in taken.items() if records}
            if time.monotonic() >= deadline:
                return {}
            await asyncio.sleep(0.002)


def run(consumer: ScriptedConsumer, window_s: float, idle_s: float, max_records: int) -> tuple[dict, float]:
    async def go() -> tuple[dict, float]:
        started = time.monotonic()
        batches = await fetch_window(consumer, started + window_s, idle_s, max_records)
        return batches, time.monotonic() - started

    return asyncio.run(go())


def test_collects_every_arrival_within_the_window_and_merges_partitions() -> None:
    consumer = ScriptedConsumer([(0.0, {"p0": [1, 2]}), (0.05, {"p1": [10]}), (0.1, {"p0": [3]})])
    batches, took = run(consumer, window_s=0.3, idle_s=1.0, max_records=100)
    assert batches == {"p0": [1, 2, 3], "p1": [10]}
    assert 0.25 <= took < 1.5  # waited out the window: more could have come
    assert len(consumer.calls) >= 4  # kept fetching through the window instead of sleeping


def test_stops_early_at_max_records() -> None:
    consumer = ScriptedConsumer([(0.0, {"p0": [1, 2, 3]}), (0.02, {"p1": [4, 5]})])
    batches, took = run(consumer, window_s=5.0, idle_s=1.0, max_records=4)
    assert sum(len(r) for r in batches.values()) == 4 and took < 1.0


def test_quiet_stream_returns_the_first_arrival_after_the_window_at_once() -> None:
    consumer = ScriptedConsumer([(0.2, {"p0": [7]}), (0.25, {"p0": [8]})])
    batches, took = run(consumer, window_s=0.05, idle_s=2.0, max_records=100)
    assert batches == {"p0": [7]}  # not held for a further window
    assert 0.15 <= took < 1.0


def test_nothing_at_all_returns_empty_after_the_idle_wait() -> None:
    consumer = ScriptedConsumer([])
    batches, took = run(consumer, window_s=0.05, idle_s=0.1, max_records=100)
    assert batches == {} and 0.09 <= took < 1.0
