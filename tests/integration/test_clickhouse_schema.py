"""Migrations against the real ClickHouse server, and every column type the DDL uses
round-trips through clickhouse-connect."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from raiwatch.schemas.clickhouse import clickhouse_client
from raiwatch.schemas.clickhouse.migrate import available_migrations, migrate

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=123000)
TABLES = ["verdicts", "messages", "alerts", "reviews", "eval_results", "checkpoints", "policies", "dead_letters"]


def _ddl(client, database: str) -> dict[str, str]:
    rows = client.query(f"SELECT name, create_table_query FROM system.tables WHERE database = '{database}'").result_rows
    return dict(rows)


def test_migrations_applied_twice_change_nothing(fresh_settings) -> None:
    client = clickhouse_client(fresh_settings)
    before = _ddl(client, fresh_settings.clickhouse.database)
    assert set(TABLES) <= set(before)
    assert migrate(fresh_settings) == []
    assert _ddl(client, fresh_settings.clickhouse.database) == before
    count = client.query("SELECT count() FROM schema_migrations").result_rows[0][0]
    assert count == len(available_migrations())


def sample_value(ch_type: str, i: int):
    """A value of ClickHouse type `ch_type` that differs by `i`."""
    if ch_type.startswith("LowCardinality("):
        return sample_value(ch_type[len("LowCardinality("):-1], i)
    if ch_type.startswith("Nullable("):
        return None if i == 0 else sample_value(ch_type[len("Nullable("):-1], i)
    if ch_type.startswith("Array("):
        inner = ch_type[len("Array("):-1]
        return [sample_value(inner, i + k) for k in range(i % 3)]
    if ch_type.startswith("Tuple("):
        return tuple(sample_value(part, i + k) for k, part in enumerate(_split_all(ch_type[len("Tuple("):-1])))
    if ch_type.startswith("Map("):
        key_type, value_type = _split_top(ch_type[len("Map("):-1])
        return {sample_value(key_type, i + k): sample_value(value_type, i + k) for k in range(i % 3)}
    if ch_type.startswith("DateTime64"):
        # Recent, so that TTL clauses (raw text is kept 7 days) do not expire the sample on insert.
        return NOW.replace(second=i % 60)
    if ch_type == "String":
        return f"välue-{i} ✓"
    if ch_type.startswith("UInt") or ch_type.startswith("Int"):
        return i % 100
    if ch_type.startswith("Float"):
        return i + 0.5
    raise AssertionError(f"test has no sample for ClickHouse type {ch_type}: extend sample_value")


def _split_all(args: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for pos, char in enumerate(args):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(args[start:pos].strip())
            start = pos + 1
    return [*parts, args[start:].strip()]


def _split_top(args: str) -> tuple[str, str]:
    depth = 0
    for pos, char in enumerate(args):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            return args[:pos].strip(), args[pos + 1:].strip()
    raise ValueError(args)


@pytest.mark.parametrize("table", TABLES)
def test_every_column_type_round_trips(fresh_settings, table: str) -> None:
    client = clickhouse_client(fresh_settings)
    columns = client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} "
        "AND default_kind NOT IN ('MATERIALIZED', 'ALIAS') ORDER BY position",
        parameters={"db": fresh_settings.clickhouse.database, "t": table},
    ).result_rows
    names = [n for n, _ in columns]
    rows = [[sample_value(t, i) for _, t in columns] for i in range(4)]
    client.insert(table, rows, column_names=names)
    got = client.query(f"SELECT {', '.join(names)} FROM {table} ORDER BY {names[0]}").result_rows
    assert len(got) == 4
    by_first = {row[0]: row for row in got}
    for row in rows:
        stored = by_first[row[0]]
        for (name, ch_type), want, have in zip(columns, row, stored, strict=True):
            if isinstance(want, float) and ch_type.startswith(("Float32", "Nullable(Float32")):
                assert have == pytest.approx(want), name
            elif isinstance(want, dict):
                assert {k: pytest.approx(v) if isinstance(v, float) else v for k, v in want.items()} == have, name
            elif isinstance(want, datetime):
                assert have.replace(tzinfo=have.tzinfo or UTC) == want, name  # the driver returns naive UTC
            else:
                assert have == want, (name, ch_type)


def test_replacing_tables_dedup_retried_inserts(fresh_settings) -> None:
    client = clickhouse_client(fresh_settings)
    row = ["v1", "r1", datetime(2026, 11, 1, tzinfo=UTC), "acme", "m", "1", "", "screen", 1, "p", 1,
           ["safety"], ["S1"], 1, 0, 0, "high", {"c@1": 0.9}, [], None, "", "[]", "en",
           datetime(2026, 11, 1, tzinfo=UTC), {"screen": 1.0}, 0, 17,  # ..., kafka_partition, kafka_offset
           ["safety.harmful-compliance@1"], ["safety.harmful-compliance"],  # policies, broken_policies
           [("safety", "S1")], 0, [], 0, 0, 0]  # findings, prev_revision, prev_findings, prev_violation, ...
    names = [n for n, in client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'verdicts' "
        "AND name != 'written_at' ORDER BY position").result_rows]
    for _ in range(3):  # a sink retrying the same batch
        client.insert("verdicts", [row], column_names=names)
    judged = list(row)
    judged[names.index("stage")], judged[names.index("revision")] = "judge", 2
    client.insert("verdicts", [judged], column_names=names)
    final = client.query("SELECT stage, count() FROM verdicts FINAL GROUP BY stage").result_rows
    assert final == [("judge", 1)]
