"""Baseline against candidate: every metric both evaluations measured, the difference with its
95% interval (Newcombe's method from the two Wilson intervals), and the regressions: metrics
where the candidate is worse and the interval excludes no difference."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..ops.errors import RaiwatchError
from ..ops.settings import RaiwatchSettings
from .evaluation import HIGHER_IS_BETTER, wilson


@dataclass(frozen=True)
class MetricResult:
    suite: str
    pillar: str
    category: str
    metric: str
    value: float
    n: int


@dataclass(frozen=True)
class Comparison:
    suite: str
    pillar: str
    category: str
    metric: str
    baseline: float
    candidate: float
    baseline_n: int
    candidate_n: int
    difference: float  # candidate - baseline
    ci_low: float
    ci_high: float
    regression: bool
    improvement: bool

    def as_dict(self) -> dict:
        return asdict(self)


def difference_interval(events_a: int, n_a: int, events_b: int, n_b: int) -> tuple[float, float, float]:
    """b - a and its 95% Newcombe (hybrid Wilson) interval."""
    p_a, p_b = events_a / n_a, events_b / n_b
    low_a, high_a = wilson(events_a, n_a)
    low_b, high_b = wilson(events_b, n_b)
    d = p_b - p_a
    return d, d - math.sqrt((p_b - low_b) ** 2 + (high_a - p_a) ** 2), d + math.sqrt((high_b - p_b) ** 2 + (p_a - low_a) ** 2)


def compare(baseline: list[MetricResult], candidate: list[MetricResult]) -> list[Comparison]:
    ours = {(r.suite, r.category, r.metric): r for r in candidate}
    out = []
    for a in baseline:
        b = ours.get((a.suite, a.category, a.metric))
        if b is None or a.n == 0 or b.n == 0:
            continue
        d, low, high = difference_interval(round(a.value * a.n), a.n, round(b.value * b.n), b.n)
        worse_up = a.metric not in HIGHER_IS_BETTER
        regression = low > 0 if worse_up else high < 0
        improvement = high < 0 if worse_up else low > 0
        out.append(Comparison(a.suite, a.pillar, a.category, a.metric, a.value, b.value, a.n, b.n, d, low, high,
                              regression, improvement))
    return sorted(out, key=lambda c: (not c.regression, c.suite, c.category, c.metric))


def load_results(settings: RaiwatchSettings, eval_id: str) -> list[MetricResult]:
    from ..schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)
    try:
        rows = client.query("SELECT suite, pillar, category, metric, value, n FROM eval_results FINAL "
                            "WHERE eval_id = {e:String} AND status = 'ok'", parameters={"e": eval_id}).result_rows
    finally:
        client.close()
    if not rows:
        raise RaiwatchError(f"no results for eval id {eval_id!r} (raiwatch eval list shows the runs)")
    return [MetricResult(*row) for row in rows]
