"""Read-back summaries from ClickHouse for the demo (and anyone at a terminal)."""

from __future__ import annotations

from dataclasses import dataclass

from ..schemas.clickhouse import clickhouse_client
from .settings import RaiwatchSettings

QUERIES = {
    "totals": "SELECT count(), sum(violation), sum(over_refusal), sum(partial), countIf(stage = 'judge') FROM verdicts FINAL",
    "by_policy": (
        "SELECT arrayJoin(broken_policies) AS policy, count() FROM verdicts FINAL GROUP BY policy "
        "ORDER BY count() DESC, policy"
    ),
    "by_pillar": (
        "SELECT arrayJoin(if(empty(pillars), ['(none)'], pillars)) AS pillar, count(), sum(violation), "
        "sum(over_refusal) FROM verdicts FINAL GROUP BY pillar ORDER BY count() DESC"
    ),
    "by_category": (
        "SELECT arrayJoin(categories) AS category, count(), sum(violation) FROM verdicts FINAL "
        "GROUP BY category ORDER BY count() DESC, category"
    ),
    "by_model": (
        "SELECT model_name, model_version, count(), round(avg(violation), 4), round(avg(over_refusal), 4) "
        "FROM verdicts FINAL GROUP BY model_name, model_version ORDER BY model_name, model_version"
    ),
    "dlq": "SELECT reason, count() FROM dead_letters FINAL GROUP BY reason ORDER BY count() DESC, reason",
    "alerts": "SELECT count() FROM alerts FINAL",
}


@dataclass(frozen=True)
class Summary:
    """Rows of each summary query."""

    rows: dict[str, list[tuple]]

    def as_dict(self) -> dict[str, list[list]]:
        return {name: [list(r) for r in rows] for name, rows in self.rows.items()}


def summarize(settings: RaiwatchSettings) -> Summary:
    client = clickhouse_client(settings)
    try:
        return Summary({name: [tuple(r) for r in client.query(sql).result_rows] for name, sql in QUERIES.items()})
    finally:
        client.close()
