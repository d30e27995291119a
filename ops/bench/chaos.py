"""Chaos benchmark: minutes of traffic from an independent producer while random workers are
killed and restarted, stopped and added, and ClickHouse and the broker restart; then the
delivery contract is checked.

    python -m raiwatch.ops.bench.chaos [--minutes 5] [--rate 150] [--workers 3] [--seed 1] [--json-out FILE]

Prints JSON: the fault schedule as it happened (seconds from the start), the counts of the
delivery report (ClickHouse with and without FINAL, the topics read_committed, paired requests
marked partial), whether the contract held, and each input partition's worst stall (the
longest time without progress while records waited: the recovery time after a fault).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from .. import stack
from . import emit
from ..chaos import Expected, IndependentProducer, PartitionWatch, WorkerFleet, contract_holds, delivery_report
from ..pipeline_run import wait_for_counts
from ..settings import RaiwatchSettings, get_settings
from ..stack import clickhouse, kafka
from ..topics import create_topics
from ..traffic import generate

FAULTS = ("kill -9 and restart", "SIGTERM and restart", "add a worker", "restart ClickHouse", "restart the broker")


def run_chaos(settings: RaiwatchSettings, minutes: float, rate: float, workers: int, seed: int, work: Path) -> dict:
    from ...schemas.clickhouse.migrate import migrate

    rng = random.Random(seed)
    create_topics(settings)
    migrate(settings)
    requests = int(minutes * 60 * rate / 2)
    envelopes = list(generate(requests, max(1, requests // 100), seed=seed))
    expected = Expected.of(envelopes)
    fleet = WorkerFleet(settings, work, loglevel="WARNING")
    watch = PartitionWatch(settings, f"{settings.kafka.topic_prefix}{settings.stages.app_id}-join",
                           [settings.topic("rai.prompts"), settings.topic("rai.outputs")])
    producer = IndependentProducer(settings, envelopes, rate)
    ids = [f"chaos-{i}" for i in range(workers)]
    for worker_id in ids:
        fleet.start(worker_id)
    time.sleep(5)
    started = time.monotonic()
    watch.start()
    producer.start()
    schedule: list[dict] = []
    next_id = workers
    try:
        while producer.is_alive():
            time.sleep(rng.uniform(20, 40))
            if not producer.is_alive():
                break
            fault = rng.choice(FAULTS)
            at = round(time.monotonic() - started, 1)
            running = fleet.running()
            if fault == "kill -9 and restart" and running:
                victim = rng.choice(running)
                fleet.kill9(victim)
                time.sleep(rng.uniform(12, 25))
                fleet.start(victim)
            elif fault == "SIGTERM and restart" and len(running) > 1:
                victim = rng.choice(running)
                fault += f" (exit {fleet.sigterm(victim)})"
                time.sleep(5)
                fleet.start(victim)
            elif fault == "add a worker":
                fleet.start(f"chaos-{next_id}")
                next_id += 1
            elif fault == "restart ClickHouse":
                clickhouse.stop(settings)
                time.sleep(rng.uniform(10, 20))
                clickhouse.start(settings)
                stack.wait_healthy(settings, 90)
            elif fault == "restart the broker":
                kafka.kafka_process(settings).stop()
                time.sleep(5)
                kafka.start(settings)
                stack.wait_healthy(settings, 120)
            schedule.append({"at_s": at, "fault": fault, "workers_running": len(fleet.running())})
        producer.join()
        published_s = round(time.monotonic() - started, 1)
        caught_up = True
        try:
            wait_for_counts(settings, len(expected.requests), expected.malformed, 600)
        except Exception:  # noqa: BLE001 - reported below, not raised: the report says what is missing
            caught_up = False
        drained_s = round(time.monotonic() - started, 1)
        report = delivery_report(settings, expected)
        stalls = watch.stop()
    finally:
        fleet.stop_all()
    return {
        "minutes": minutes, "rate_msgs_per_s": rate, "workers": workers, "seed": seed,
        "published_s": published_s, "caught_up_s": drained_s, "caught_up": caught_up,
        "producer_error": repr(producer.error) if producer.error else None,
        "faults": schedule, "report": report, "contract_holds": contract_holds(report),
        "worst_stall_s": max(stalls.values(), default=0.0), "stall_s_by_partition": stalls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="minutes of traffic")
    parser.add_argument("--rate", type=float, default=150.0, help="input messages per second")
    parser.add_argument("--workers", type=int, default=3, help="workers at the start")
    parser.add_argument("--seed", type=int, default=1, help="seeds the traffic and the fault schedule")
    parser.add_argument("--json-out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    base = get_settings()
    stack.up(base, provision=False)
    token = uuid.uuid4().hex[:6]
    settings = base.replace(kafka__topic_prefix=f"chaos{token}.", clickhouse__database=f"chaos_{token}")
    work = Path(tempfile.mkdtemp(prefix="raiwatch-chaos-"))
    result = {"machine": {"cpus": os.cpu_count()}, "logs": str(work),
              **run_chaos(settings, args.minutes, args.rate, args.workers, args.seed, work)}
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
