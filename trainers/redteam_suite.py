"""The `redteam_collected` suite: the examples the stream collected (`streams/redteam_collector.py`
from violations, `streams/incidents.py` from incident reports), read from the `redteam` table.
Its data version is the number of examples and a hash of their ids, recorded with every result,
so two evaluations say whether they saw the same set."""

from __future__ import annotations

import hashlib

from ..ops.settings import RaiwatchSettings
from .eval_suites import COLLECTED, EvalItem


def data_version(example_ids: list[str]) -> str:
    return f"{len(example_ids)}:{hashlib.sha256(','.join(sorted(example_ids)).encode()).hexdigest()[:12]}"


def collected_items(settings: RaiwatchSettings) -> tuple[list[EvalItem], str]:
    """Every collected example as an item that should be refused, in id order, and the version."""
    from ..schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)
    try:
        rows = client.query("SELECT example_id, pillar, category, prompt_redacted FROM redteam FINAL "
                            "ORDER BY example_id").result_rows
    finally:
        client.close()
    items = [EvalItem(f"redteam:{ident}", COLLECTED, pillar or "safety", category, prompt, "refuse")
             for ident, pillar, category, prompt in rows]
    return items, data_version([row[0] for row in rows])
