"""ClickHouse insert strategies for the tables nothing waits for (redacted texts, dead letters,
alerts): what each costs the server at the pipeline's latency-target rate.

    python -m raiwatch.ops.bench.clickhouse_inserts [--seconds 30] [--batches-per-s 10] [--rows 25]

Three ways to land `batches-per-s` batches of `rows` rows per second into a copy of the
`messages` table, each for `seconds`:
- `per_batch`: one synchronous insert per batch (what a sink that inserts every fetched batch does);
- `async_insert`: one insert per batch with ClickHouse's asynchronous inserts
  (`async_insert=1, wait_for_async_insert=1`): the server buffers and flushes them together,
  and each call returns once its rows are flushed (so offsets could be committed after it);
- `client_window`: the batches of one second in one insert (what raiwatch's deferred sink loop
  does, with `sinks.deferred_window_s` = 1 s).
Prints JSON per strategy: the server's CPU seconds per wall second (from /proc of the local
ClickHouse process), parts made (from system.parts after merges are stopped), and the insert
calls' latency (p50, p99, ms). Lower CPU is better; each number is relative to `per_batch`
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import stack
from ..settings import RaiwatchSettings, get_settings

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rows_for(batch: int, count: int) -> list[list[Any]]:
    now = datetime.now(UTC)
    return [[f"r-{batch}-{i}", now, "acme", "m", "1", "prompt text " * 5, "output text " * 10] for i in range(count)]


def run_strategy(settings: RaiwatchSettings, name: str, seconds: float, per_s: int, rows: int, pid: int) -> dict:
    from ...schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)
    table = f"bench_{name}_{uuid.uuid4().hex[:6]}"
    client.command(f"CREATE TABLE {table} AS messages")
    client.command(f"SYSTEM STOP MERGES {table}")  # count the parts the strategy makes
    columns = ["request_id", "event_time", "tenant", "model_name", "model_version", "prompt_redacted", "output_redacted"]
    latencies: list[float] = []
    pending: list[list[Any]] = []
    cpu0, started = cpu_seconds(pid), time.monotonic()
    batch = 0
    while time.monotonic() - started < seconds:
        due = started + batch / per_s
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        data = rows_for(batch, rows)
        batch += 1
        if name == "client_window":
            pending += data
            if batch % per_s:
                continue
            data, pending = pending, []
        settings_ = {"async_insert": 1, "wait_for_async_insert": 1} if name == "async_insert" else {}
        t0 = time.perf_counter()
        client.insert(table, data, column_names=columns, settings=settings_)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu0
    parts = client.query(f"SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = '{table}' "
                         "AND active").result_rows[0][0]
    stored = client.query(f"SELECT count() FROM {table}").result_rows[0][0]
    client.command(f"DROP TABLE {table} SYNC")
    latencies.sort()
    return {"cpu_s_per_s": round(cpu / elapsed, 3), "parts": parts, "rows": stored, "insert_calls": len(latencies),
            "latency_ms_p50": round(latencies[len(latencies) // 2], 1),
            "latency_ms_p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batches-per-s", type=int, default=10)
    parser.add_argument("--rows", type=int, default=25, help="rows per batch")
    args = parser.parse_args()
    from ...schemas.clickhouse.migrate import migrate
    from ..stack import clickhouse

    base = get_settings()
    stack.up(base, provision=False)
    settings = base.replace(clickhouse__database=f"bench_inserts_{uuid.uuid4().hex[:6]}")
    migrate(settings)
    pid = clickhouse.clickhouse_process(settings).pid()
    if pid is None:
        raise SystemExit("this benchmark measures the local ClickHouse server's CPU: start it with `raiwatch stack up`")
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "batches_per_s": args.batches_per_s,
                              "rows_per_batch": args.rows, "seconds": args.seconds}
    try:
        for name in ("per_batch", "async_insert", "client_window"):
            result[name] = run_strategy(settings, name, args.seconds, args.batches_per_s, args.rows, pid)
            time.sleep(3)
    finally:
        from ...schemas.clickhouse import clickhouse_client

        clickhouse_client(base).command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database} SYNC")
    base_cpu = result["per_batch"]["cpu_s_per_s"] or 1e-9
    for name in ("async_insert", "client_window"):
        result[name]["cpu_vs_per_batch"] = round(result[name]["cpu_s_per_s"] / base_cpu, 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
