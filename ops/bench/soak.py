"""Soak benchmark: minutes of hostile input (`ops/hostile.py`: every codec, any size, null and
mismatched keys, random bytes, invalid unicode, nested JSON, retries and conflicts) from an
independent producer into a running worker; then the outcome of every input is checked.

    python -m raiwatch.ops.bench.soak [--minutes 5] [--rate 100] [--seed 7] [--json-out FILE]

Prints JSON: the outcome report (verdicts and dead letters with and without FINAL and on the
topic, reasons, inputs whose dead letter has a reason their input does not allow, requests
without a verdict, secrets stored raw), whether it was exact, lagging input partitions at the
end, and the worker's resident memory (stages process + sinks process) sampled every 10 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from .. import stack
from . import emit
from ..chaos import lagging_partitions
from ..hostile import generate, outcome_exact, outcome_report, publish
from ..pipeline_run import start_worker, stop_worker, wait_for_counts
from ..settings import get_settings
from ..topics import create_topics

SAMPLE_EVERY_S = 10.0


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, MiB (0 when gone)."""
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return 0.0
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return round(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="minutes of traffic")
    parser.add_argument("--rate", type=float, default=100.0, help="input messages per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json-out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    from ...schemas.clickhouse.migrate import migrate

    base = get_settings()
    stack.up(base, provision=False)
    token = uuid.uuid4().hex[:6]
    settings = base.replace(kafka__topic_prefix=f"soak{token}.", clickhouse__database=f"soak_{token}",
                            join__timeout_s=5.0)
    create_topics(settings)
    migrate(settings)
    work = Path(tempfile.mkdtemp(prefix="raiwatch-soak-"))
    traffic = generate(int(args.minutes * 60 * args.rate), args.seed, max_bytes=settings.kafka.max_message_bytes)
    worker = start_worker(settings, work / "worker.log")
    memory: list[dict] = []
    done = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not done.wait(SAMPLE_EVERY_S):
            memory.append({"at_s": round(time.monotonic() - started), "rss_mib": rss_mib(worker.pid)})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        published_s = publish(settings, traffic, rate=args.rate)
        started = time.monotonic()
        caught_up = True
        try:
            wait_for_counts(settings, len(traffic.requests), traffic.dead_letters, 600, worker=worker)
        except Exception:  # noqa: BLE001 - the report says what is missing
            caught_up = False
        report = outcome_report(settings, traffic)
        group = f"{settings.kafka.topic_prefix}{settings.stages.app_id}-join"
        lagging = lagging_partitions(settings, group, [settings.topic("rai.prompts"), settings.topic("rai.outputs")])
        drain_s = round(time.monotonic() - started, 1)
    finally:
        done.set()
        stop_worker(worker)
    result = {"machine": {"cpus": os.cpu_count()}, "minutes": args.minutes, "rate_msgs_per_s": args.rate,
              "seed": args.seed, "published_s": round(published_s, 1), "caught_up": caught_up,
              "caught_up_after_publish_s": drain_s, "report": report, "exact": outcome_exact(report),
              "lagging_partitions": lagging, "worker_rss_mib": memory, "logs": str(work)}
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
