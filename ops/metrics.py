"""Read the per-minute verdict metrics (`verdict_metrics_1m`, migration 0008) grouped the way a
dashboard or an operator asks: requests, violations, over-refusals, partials, judged requests,
and judge score and latency quantiles, with rates.

Rates per pillar or category divide by every request of the group's other keys (the row with
pillar '' and category ''), not by the requests with a finding there: "3% of this model's
traffic violates privacy", not "most privacy findings are violations".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from ..schemas.clickhouse import clickhouse_client
from .errors import RaiwatchError
from .settings import RaiwatchSettings

DIMENSIONS = ("minute", "tenant", "model_name", "model_version", "model_adapter", "pillar", "category", "locale")
FINDING_DIMENSIONS = ("pillar", "category")
QUANTILES = "(0.5, 0.9, 0.99)"


@dataclass(frozen=True)
class MetricsRow:
    """One group's numbers."""

    keys: dict[str, str]
    requests: int
    violations: int
    over_refusals: int
    partials: int
    judged: int
    violation_rate: float
    over_refusal_rate: float
    judge_score_quantiles: list[float] = field(default_factory=list)
    screen_latency_ms_quantiles: list[float] = field(default_factory=list)
    judge_latency_ms_quantiles: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _where(since: datetime | None, until: datetime | None, filters: dict[str, str]) -> tuple[str, dict]:
    clauses, params = [], {}
    if since is not None:
        clauses.append("minute >= {since:DateTime}")
        params["since"] = since
    if until is not None:
        clauses.append("minute < {until:DateTime}")
        params["until"] = until
    for name, value in filters.items():
        if name not in DIMENSIONS or name == "minute":
            raise RaiwatchError(f"cannot filter metrics by {name!r}; choose from {', '.join(DIMENSIONS[1:])}")
        clauses.append(f"{name} = {{{name}:String}}")
        params[name] = value
    return (" AND ".join(clauses) or "1"), params


def read_metrics(settings: RaiwatchSettings, by: list[str], since: datetime | None = None,
                 until: datetime | None = None, filters: dict[str, str] | None = None) -> list[MetricsRow]:
    """Groups by `by` (names from `DIMENSIONS`; `minute` for a time series), newest numbers
    first by requests. Without pillar or category in `by`, every request counts once."""
    unknown = [name for name in by if name not in DIMENSIONS]
    if unknown:
        raise RaiwatchError(f"unknown metrics dimension(s) {unknown}; choose from {', '.join(DIMENSIONS)}")
    filters = dict(filters or {})
    where, params = _where(since, until, filters)
    findings = any(name in FINDING_DIMENSIONS for name in by) or any(name in FINDING_DIMENSIONS for name in filters)
    base = [name for name in by if name not in FINDING_DIMENSIONS]
    group = ", ".join(by) if by else "tuple()"
    select_keys = "".join(f"{name}, " for name in by)
    measures = (f"sum(requests), sum(violations), sum(over_refusals), sum(partials), sum(judged), "
                f"quantilesTDigestMerge{QUANTILES}(judge_score), quantilesTDigestMerge{QUANTILES}(screen_latency_ms), "
                f"quantilesTDigestMerge{QUANTILES}(judge_latency_ms)")
    scope = "pillar != ''" if findings else "pillar = '' AND category = ''"
    rows_sql = (f"SELECT {select_keys}{measures} FROM verdict_metrics_1m WHERE {where} AND {scope} "
                f"GROUP BY {group} HAVING sum(requests) != 0 ORDER BY sum(requests) DESC")
    client = clickhouse_client(settings)
    try:
        rows = client.query(rows_sql, parameters=params).result_rows
        totals: dict[tuple, int] = {}
        if findings:
            base_where, base_params = _where(since, until, {k: v for k, v in filters.items() if k not in FINDING_DIMENSIONS})
            base_group = ", ".join(base) if base else "tuple()"
            base_keys = "".join(f"{name}, " for name in base)
            for row in client.query(f"SELECT {base_keys}sum(requests) FROM verdict_metrics_1m WHERE {base_where} "
                                    f"AND pillar = '' AND category = '' GROUP BY {base_group}",
                                    parameters=base_params).result_rows:
                totals[tuple(str(v) for v in row[:-1])] = int(row[-1])
    finally:
        client.close()
    result = []
    for row in rows:
        keys = {name: str(value) for name, value in zip(by, row[:len(by)], strict=True)}
        requests, violations, over_refusals, partials, judged, judge_q, screen_q, judge_lat_q = row[len(by):]
        denominator = totals.get(tuple(keys[name] for name in base), 0) if findings else int(requests)
        result.append(MetricsRow(
            keys=keys, requests=int(requests), violations=int(violations), over_refusals=int(over_refusals),
            partials=int(partials), judged=int(judged),
            violation_rate=round(violations / denominator, 6) if denominator else 0.0,
            over_refusal_rate=round(over_refusals / denominator, 6) if denominator else 0.0,
            judge_score_quantiles=_finite(judge_q), screen_latency_ms_quantiles=_finite(screen_q),
            judge_latency_ms_quantiles=_finite(judge_lat_q)))
    return result


def _finite(values: list[float]) -> list[float]:
    """Quantiles of an empty state are NaN: none then."""
    return [round(float(v), 3) for v in values if v == v]
