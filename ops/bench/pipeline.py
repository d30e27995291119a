"""Pipeline benchmark: sustained throughput and end-to-end latency on the real local stack.

    python -m raiwatch.ops.bench.pipeline [--requests 20000] [--latency-rate 500] [--json-out FILE]
    python -m raiwatch.ops.bench.pipeline --telemetry 3 [--metric-interval-ms 60000]  # telemetry only
    python -m raiwatch.ops.bench.pipeline --tiers 2         # rule, default and trained screens

Prints JSON with:
- `ceiling`: a raw aiokafka consume -> produce pass-through of the same messages (no decoding,
  no join, no checks, no ClickHouse): the most this broker and machine move;
- `throughput`: paired requests (prompt + output) per second through the whole pipeline
  (join, screen with the configured checks, verdicts to Kafka and ClickHouse), pre-loaded
  traffic, timed from the first publish to the last verdict row in ClickHouse;
- `latency`: end-to-end latency per request (output published -> verdict row inserted in
  ClickHouse, from the row's `input_published_at` and `written_at`) at a fixed publish rate,
  measured last (the bulk runs warm the broker up), once their topics and databases are gone,
  ClickHouse has no merges running and the machine is quiet, after 10 s of unmeasured warm-up
  traffic at that rate.
- with `--telemetry ROUNDS` instead: `telemetry`, one-worker throughput with OpenTelemetry off
  and on (every request traced; spans and metrics over OTLP/HTTP to a local receiver),
  alternating, ROUNDS runs each, and the overhead in percent.
Targets: >= 2,000 paired messages/s; p99 <= 250 ms at 500 messages/s; telemetry <= 3%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import stack
from . import emit
from ..pipeline_run import start_worker, stop_worker, wait_for_counts
from ..replay import read_messages, replay
from ..settings import RaiwatchSettings, get_settings
from ..topics import create_topics, delete_prefixed_topics
from ..traffic import PAIRED_ONLY, write_traffic


@contextmanager
def fresh(settings: RaiwatchSettings, tag: str) -> Iterator[RaiwatchSettings]:
    """Settings for one measurement with topics and a database of its own, removed afterwards
    (left behind, their tables' background merges slowed every later run)."""
    token = f"{tag}{uuid.uuid4().hex[:6]}"
    run = settings.replace(kafka__topic_prefix=f"bench{token}.", clickhouse__database=f"bench_{token}")
    from ...schemas.clickhouse import clickhouse_client
    from ...schemas.clickhouse.migrate import migrate

    create_topics(run)
    migrate(run)
    try:
        yield run
    finally:
        delete_prefixed_topics(run)
        clickhouse_client(settings).command(f"DROP DATABASE IF EXISTS {run.clickhouse.database} SYNC")


async def passthrough_ceiling(settings: RaiwatchSettings, traffic: Path) -> dict:
    """Publish the traffic to one topic, then time consume -> produce of every message."""
    from .. import kafka_clients

    source, sink = settings.topic("rai.prompts"), settings.topic("rai.outputs")
    messages = list(read_messages(traffic, None))
    producer = kafka_clients.producer(settings, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for batch_start in range(0, len(messages), 1000):
            await asyncio.gather(*[await producer.send(source, m.value, key=m.key)
                                   for m in messages[batch_start:batch_start + 1000]])
        consumer = kafka_clients.consumer(settings, source, group_id=f"{source}-ceiling", auto_offset_reset="earliest",
                                          enable_auto_commit=False, max_poll_records=2000)
        await consumer.start()
        started, moved = time.monotonic(), 0
        try:
            while moved < len(messages):
                batches = await consumer.getmany(timeout_ms=500)
                futures = [await producer.send(sink, r.value, key=r.key) for records in batches.values() for r in records]
                await asyncio.gather(*futures)
                moved += len(futures)
                await consumer.commit()
        finally:
            await consumer.stop()
        seconds = time.monotonic() - started
    finally:
        await producer.stop()
    return {"messages": moved, "seconds": round(seconds, 2), "messages_per_s": round(moved / seconds),
            "paired_per_s": round(moved / 2 / seconds)}


def pipeline_throughput(settings: RaiwatchSettings, traffic: Path, requests: int, work: Path, workers: int,
                        env: dict[str, str] | None = None) -> dict:
    """Pre-loaded traffic through `workers` worker processes (one consumer group)."""
    procs = [start_worker(settings, work / f"throughput-worker{i}.log", worker_id=str(i), env=env)
             for i in range(workers)]
    try:
        _warm_up(settings, work, procs[0])
        time.sleep(5 if workers > 1 else 0)  # let the group settle on its final assignment
        cpu_before_s = sum(_process_tree_cpu_s(proc.pid) for proc in procs)  # start-up and warm-up excluded
        started = time.monotonic()
        asyncio.run(replay(settings, traffic))
        published = time.monotonic() - started
        wait_for_counts(settings, requests + 1, 0, 900, worker=procs[0], settle_s=0)
        seconds = time.monotonic() - started
        cpu_s = sum(_process_tree_cpu_s(proc.pid) for proc in procs) - cpu_before_s
    finally:
        for proc in procs:
            stop_worker(proc)
    return {"workers": workers, "requests": requests, "publish_seconds": round(published, 2),
            "seconds": round(seconds, 2), "paired_per_s": round(requests / seconds),
            "worker_cpu_ms_per_request": round(cpu_s * 1000 / requests, 3)}


def _process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process and its children have used so far: less noisy than
    throughput on a shared machine. The caller subtracts the start-up's (importing and setting up
    the OpenTelemetry SDK alone costs ~0.2 s per process, a third of the measured overhead when
    it was counted)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids, total = [pid], 0.0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except OSError:
            pass
    return total


LATENCY_WARM_UP_S = 10.0
LATENCY_SEED = 21  # the measured requests are `req-21-*` (ops/traffic.py names them by seed)


def pipeline_latency(settings: RaiwatchSettings, work: Path, rate_msgs: float, seconds: float) -> dict:
    """Steady-state latency at `rate_msgs`: after a start-up request, `LATENCY_WARM_UP_S` of
    traffic at the same rate is sent and not measured (the first second after start-up shows
    the pipeline's connection set-up and first transactions, up to ~400 ms), then `seconds`
    of measured traffic."""
    requests = int(rate_msgs * seconds / 2)
    warm_requests = int(rate_msgs * LATENCY_WARM_UP_S / 2)
    traffic, warm = work / "latency.jsonl", work / "latency-warm-up.jsonl"
    write_traffic(traffic, requests, 0, seed=LATENCY_SEED, kind_weights=PAIRED_ONLY)
    write_traffic(warm, warm_requests, 0, seed=LATENCY_SEED + 1, kind_weights=PAIRED_ONLY)
    quiet_s = _wait_for_quiet_clickhouse(settings)
    quiet_machine_s = _wait_for_quiet_machine()
    worker = start_worker(settings, work / "latency-worker.log")
    try:
        _warm_up(settings, work, worker)
        asyncio.run(replay(settings, warm, rate=rate_msgs))
        asyncio.run(replay(settings, traffic, rate=rate_msgs))
        wait_for_counts(settings, requests + warm_requests + 1, 0, 600, worker=worker, settle_s=0)
    finally:
        stop_worker(worker)
    from ...schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)
    p50, p90, p99, worst = client.query(
        "SELECT quantilesExact(0.5, 0.9, 0.99, 1.0)(dateDiff('millisecond', input_published_at, written_at)) "
        "FROM verdicts FINAL WHERE startsWith(request_id, {prefix:String})",
        parameters={"prefix": f"req-{LATENCY_SEED}-"}).result_rows[0][0]
    return {"rate_messages_per_s": rate_msgs, "requests": requests, "warm_up_s": LATENCY_WARM_UP_S,
            "waited_for_quiet_clickhouse_s": quiet_s, "waited_for_quiet_machine_s": quiet_machine_s,
            "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": worst}


def _cpu_idle_share(interval_s: float = 1.0) -> float:
    """The machine's idle CPU share over `interval_s` (from /proc/stat)."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    idle0, total0 = sample()
    time.sleep(interval_s)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def _wait_for_quiet_machine(limit_s: float = 90.0, idle_share: float = 0.85) -> float:
    """Wait until the machine is mostly idle (the broker deleting the previous runs' topics,
    ClickHouse dropping their databases and merging); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s and _cpu_idle_share() < idle_share:
        pass
    return round(time.monotonic() - started, 1)


def _wait_for_quiet_clickhouse(settings: RaiwatchSettings, limit_s: float = 120.0) -> float:
    """Wait until ClickHouse has no merges running (those of the throughput runs' rows compete
    for this machine's two cores); returns the seconds waited."""
    from ...schemas.clickhouse import clickhouse_client

    client, started = clickhouse_client(settings), time.monotonic()
    while time.monotonic() - started < limit_s:
        if client.query("SELECT count() FROM system.merges").result_rows[0][0] == 0:
            break
        time.sleep(1.0)
    return round(time.monotonic() - started, 1)


def _warm_up(settings: RaiwatchSettings, work: Path, worker) -> None:
    """One request through the pipeline, so start-up and rebalancing are not timed."""
    warm = work / f"warmup-{uuid.uuid4().hex[:6]}.jsonl"
    base = {"schema_version": 1, "request_id": "warmup", "model": {"name": "warmup"}}
    warm.write_text(json.dumps({"topic": "rai.prompts", "value": {**base, "event_id": "w-p", "prompt": "hi"}}) + "\n"
                    + json.dumps({"topic": "rai.outputs", "value": {**base, "event_id": "w-o", "output": "hello"}}) + "\n")
    asyncio.run(replay(settings, warm))
    wait_for_counts(settings, 1, 0, 180, worker=worker, settle_s=0)


class _OtlpReceiver:
    """A local OTLP/HTTP endpoint that accepts and counts what it is sent (the telemetry runs)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        counts = self.counts = {"requests": 0, "bytes": 0}

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                counts["bytes"] += len(self.rfile.read(int(self.headers["Content-Length"])))
                counts["requests"] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def telemetry_overhead(settings: RaiwatchSettings, traffic: Path, requests: int, work: Path, rounds: int,
                       metric_interval_ms: int = 60_000) -> dict:
    """One-worker throughput with telemetry off and on (every request traced, metrics every
    `metric_interval_ms`: the SDK's default is 60 s; OTLP/HTTP to a local receiver),
    alternating, `rounds` times each."""
    receiver = _OtlpReceiver()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_METRIC_EXPORT_INTERVAL": str(metric_interval_ms)}
    off, on = [], []
    try:
        for _ in range(rounds):
            with fresh(settings, "o") as run:
                off.append(pipeline_throughput(run, traffic, requests, work, 1))
            with fresh(settings, "t") as run:
                on.append(pipeline_throughput(run, traffic, requests, work, 1, env=env))
    finally:
        receiver.close()
    rate_off, rate_on = sum(r["paired_per_s"] for r in off), sum(r["paired_per_s"] for r in on)
    cpu_off = sum(r["worker_cpu_ms_per_request"] for r in off)
    cpu_on = sum(r["worker_cpu_ms_per_request"] for r in on)
    return {"off_paired_per_s": [r["paired_per_s"] for r in off], "on_paired_per_s": [r["paired_per_s"] for r in on],
            "off_worker_cpu_ms_per_request": [r["worker_cpu_ms_per_request"] for r in off],
            "on_worker_cpu_ms_per_request": [r["worker_cpu_ms_per_request"] for r in on],
            "otlp_posts": receiver.counts["requests"], "otlp_bytes": receiver.counts["bytes"],
            "metric_export_interval_ms": metric_interval_ms,
            "throughput_overhead_pct": round(100 * (1 - rate_on / rate_off), 1),
            "worker_cpu_overhead_pct": round(100 * (cpu_on / cpu_off - 1), 1)}


def tiers() -> dict[str, list]:
    """The screening tiers compared by `--tiers`: the three rule checks (the screen before the
    pillar checks), the default screen, and the trained tier with the pillar checks."""
    from ...models.catalog import RULE_TIER, TRAINED_TIER
    from ...schemas.checks import CheckSpec
    from ..settings import ScreenSettings

    default = [spec.name for spec in ScreenSettings().checks]
    pillar = [name for name in default if name not in RULE_TIER]
    return {"rule": [CheckSpec(name=n) for n in RULE_TIER], "default": [CheckSpec(name=n) for n in default],
            "trained": [CheckSpec(name=n) for n in (*TRAINED_TIER, *pillar)]}


def tier_throughput(settings: RaiwatchSettings, traffic: Path, requests: int, work: Path, rounds: int) -> dict:
    """One-worker throughput per screening tier, the tiers alternating, `rounds` runs each."""
    out: dict[str, dict[str, list]] = {name: {"paired_per_s": [], "worker_cpu_ms_per_request": []} for name in tiers()}
    for _ in range(rounds):
        for name, checks in tiers().items():
            with fresh(settings.replace(screen__checks=checks), name[0]) as run:
                measured = pipeline_throughput(run, traffic, requests, work, 1)
            out[name]["paired_per_s"].append(measured["paired_per_s"])
            out[name]["worker_cpu_ms_per_request"].append(measured["worker_cpu_ms_per_request"])
    return {"checks": {name: [c.name for c in checks] for name, checks in tiers().items()}, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000, help="paired requests for the throughput run")
    parser.add_argument("--telemetry", type=int, default=0, metavar="ROUNDS",
                        help="only measure telemetry's overhead: throughput off and on, alternating, ROUNDS each")
    parser.add_argument("--metric-interval-ms", type=int, default=60_000,
                        help="telemetry runs: OTEL_METRIC_EXPORT_INTERVAL (the SDK's default, 60 s, unless given)")
    parser.add_argument("--tiers", type=int, default=0, metavar="ROUNDS",
                        help="only compare screening tiers (rule checks, the default screen, the trained tier): "
                             "one-worker throughput, alternating, ROUNDS each")
    parser.add_argument("--latency-rate", type=float, default=500.0, help="input messages/s for the latency run")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="duration of the latency run")
    parser.add_argument("--json-out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    settings = get_settings()
    stack.up(settings, provision=False)
    work = Path(tempfile.mkdtemp(prefix="raiwatch-bench-"))
    traffic = work / "throughput.jsonl"
    write_traffic(traffic, args.requests, 0, seed=20, kind_weights=PAIRED_ONLY)
    result: dict = {"machine": {"cpus": os.cpu_count()}, "checks": [str(check) for check in settings.screen.checks]}
    if args.telemetry:
        result["telemetry"] = telemetry_overhead(settings, traffic, args.requests, work, args.telemetry,
                                                 args.metric_interval_ms)
        emit(result, args.json_out)
        return
    if args.tiers:
        result["tiers"] = tier_throughput(settings, traffic, args.requests, work, args.tiers)
        emit(result, args.json_out)
        return
    with fresh(settings, "c") as run:
        result["ceiling"] = asyncio.run(passthrough_ceiling(run, traffic))
    with fresh(settings, "t") as run:
        result["throughput"] = pipeline_throughput(run, traffic, args.requests, work, 1)
    with fresh(settings, "u") as run:
        result["throughput_2_workers"] = pipeline_throughput(run, traffic, args.requests, work, 2)
    # Latency last, on a broker the bulk runs have warmed up (measured on a stack started a
    # minute or two earlier, p99 was 260-440 ms at this rate), after they are cleaned up and the
    # machine is quiet, and after 10 s of unmeasured traffic at the rate.
    with fresh(settings, "l") as run:
        result["latency"] = pipeline_latency(run, work, args.latency_rate, args.latency_seconds)
    for name in ("throughput", "throughput_2_workers"):
        result[f"{name}_vs_ceiling"] = round(result[name]["paired_per_s"] / result["ceiling"]["paired_per_s"], 3)
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
