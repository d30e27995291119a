"""`raiwatch demo`: stack up, a worker, sample traffic, a summary read back from ClickHouse."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import stack
from .pipeline_run import start_worker, stop_worker, wait_for_counts
from .replay import replay
from ..schemas.checks import CheckSpec
from .settings import RaiwatchSettings
from .summary import summarize
from .traffic import APPROVED_MODELS, write_traffic


def with_demo_registry(settings: RaiwatchSettings) -> list[CheckSpec]:
    """The screen's checks, with the demo traffic's approved models as the governance check's
    registry unless one is configured (the traffic's canary version is not in it)."""
    return [CheckSpec(name=spec.name, args={"approved": APPROVED_MODELS})
            if spec.name == "governance.model_registry" and not spec.args.get("approved") else spec
            for spec in settings.screen.checks]


def run_demo(settings: RaiwatchSettings, requests: int, malformed: int, seed: int, timeout_s: float,
             json_output: bool) -> None:
    console = Console(stderr=True)
    with console.status("starting Kafka and ClickHouse..."):
        stack.up(settings, provision=False)
    # A fresh topic prefix and database per run, so the counts below are this run's alone.
    run_id = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
    run = settings.replace(kafka__topic_prefix=f"{settings.kafka.topic_prefix}demo{run_id}.",
                           clickhouse__database=f"demo_{run_id}", screen__checks=with_demo_registry(settings))
    from ..schemas.clickhouse.migrate import migrate
    from .topics import create_topics

    create_topics(run)
    migrate(run)
    work = Path(tempfile.mkdtemp(prefix="raiwatch-demo-"))
    traffic = work / "traffic.jsonl"
    total = write_traffic(traffic, requests, malformed, seed)
    console.print(f"run {run_id}: {total} messages ({requests} requests, {malformed} malformed) -> "
                  f"topics {run.kafka.topic_prefix}*, database {run.clickhouse.database}")
    worker = start_worker(run, work / "worker.log")
    try:
        started = time.monotonic()
        with console.status("replaying traffic..."):
            asyncio.run(replay(run, traffic))
        with console.status("waiting for every verdict and dead letter in ClickHouse..."):
            counts = wait_for_counts(run, requests, malformed, timeout_s, worker=worker)
        elapsed = time.monotonic() - started
    finally:
        stop_worker(worker)
    summary = summarize(run)
    if json_output:
        print(json.dumps({"run": run_id, "seconds": round(elapsed, 1), "verdicts": counts.verdicts,
                          "dead_letters": counts.dead_letters, **summary.as_dict()}, indent=2))
        return
    out = Console(width=None if sys.stdout.isatty() else 120)
    out.print(f"[bold]{counts.verdicts} verdicts and {counts.dead_letters} dead letters in {elapsed:.1f}s "
              f"(expected {requests} and {malformed}); worker log: {work / 'worker.log'}")
    (total_rows, violations, over_refusals, partial, judged), = summary.rows["totals"]
    out.print(f"violations {violations}, over-refusals {over_refusals}, partial {partial}, judged {judged}, "
              f"alerts {summary.rows['alerts'][0][0]}")
    for title, name, headers in [
        ("by pillar", "by_pillar", ("pillar", "verdicts", "violations", "over-refusals")),
        ("policies broken", "by_policy", ("policy", "verdicts")),
        ("by category", "by_category", ("category", "verdicts", "violations")),
        ("by model version", "by_model", ("model", "version", "verdicts", "violation rate", "over-refusal rate")),
        ("dead letters", "dlq", ("reason", "count")),
    ]:
        table = Table(*headers, title=title)
        for row in summary.rows[name]:
            table.add_row(*(str(v) for v in row))
        out.print(table)
