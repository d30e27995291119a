"""The stall watchdog: a partition whose position has not moved for a while although records
wait in it. Something holds it (a record that keeps failing, a sink that keeps refusing, a
transaction that never resolves); the loop reports it once per stuck offset, with the record
that holds it, as a log line, an alert and a counter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StallReport:
    """A partition held at `offset` with `lag` records waiting, for `stalled_s` seconds."""

    stage: str
    topic: str
    partition: int
    offset: int
    lag: int
    stalled_s: float


class StallWatch:
    """Remembers when each partition's position last moved (or had nothing to read)."""

    def __init__(self, stage: str, stall_after_s: float) -> None:
        self.stage, self.stall_after_s = stage, stall_after_s
        self._since: dict[Any, tuple[int, float]] = {}  # tp -> (position, monotonic time it got there)
        self._reported: set[tuple[Any, int]] = set()
        self.stalls = 0

    def observe(self, tp: Any, position: int, lag: int, now: float) -> StallReport | None:
        """Record the partition's position and lag; a report the first time it counts as stalled."""
        previous = self._since.get(tp)
        if previous is None or previous[0] != position or lag <= 0:
            self._since[tp] = (position, now)
            return None
        stalled_s = now - previous[1]
        if stalled_s < self.stall_after_s or (tp, position) in self._reported:
            return None
        self._reported.add((tp, position))
        self.stalls += 1
        return StallReport(self.stage, tp.topic, tp.partition, position, lag, stalled_s)

    def forget(self, tps: Any) -> None:
        """Partitions no longer assigned."""
        for tp in tps:
            self._since.pop(tp, None)
