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
from .errors import ConfigurationError
from .settings import RaiwatchSettings
from .summary import summarize
from .traffic import APPROVED_MODELS, write_traffic


TIERS = ("trained", "rules")


def demo_checks(settings: RaiwatchSettings, tier: str) -> list[CheckSpec]:
    """The demo's screen. `trained`: the trained fast tier (`catalog.TRAINED_TIER`) in place of
    the rule checks for PII, harm and refusal, plus the configured screen's other checks (the
    pillar checks); `rules`: the configured screen as it is. The governance check gets the demo
    traffic's approved models as its registry unless one is configured (the traffic's canary
    version is not in it)."""
    from ..models.catalog import RULE_TIER, TRAINED_TIER

    if tier not in TIERS:
        raise ConfigurationError(f"tier must be one of {TIERS}, not {tier!r}")
    specs = list(settings.screen.checks)
    if tier == "trained":
        specs = [CheckSpec(name=name) for name in TRAINED_TIER] + [s for s in specs if s.name not in RULE_TIER]
    return [CheckSpec(name=spec.name, args={"approved": APPROVED_MODELS})
            if spec.name == "governance.model_registry" and not spec.args.get("approved") else spec
            for spec in specs]


def with_demo_judge(settings: RaiwatchSettings, judge_share: float) -> RaiwatchSettings:
    """A sampled share of every tenant's requests to the judge (the configured one, else the
    SmolLM2 safety judge in process), plus the few scores within 0.01 of 0.5: the demo shows the
    judge at work without sending it every high-risk or uncertain request, which on a CPU would
    take minutes."""
    if judge_share <= 0:
        return settings
    return settings.replace(judge__check=settings.judge.check or CheckSpec(name="judge.safety"),
                            judge__sample_rates={"*": judge_share}, judge__high_risk_categories=[],
                            judge__band=(0.49, 0.51))


def judged_count(settings: RaiwatchSettings) -> int:
    from ..schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)
    try:
        return int(client.query("SELECT countIf(stage = 'judge') FROM verdicts FINAL").result_rows[0][0])
    finally:
        client.close()


def scored_judge_rows(settings: RaiwatchSettings) -> int:
    """Judged verdicts that carry the judge's score (an unscored one, a timeout or an unreadable
    answer, is judged but not scored)."""
    from ..schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)
    try:
        return int(client.query("SELECT countIf(stage = 'judge' AND judge_score IS NOT NULL) FROM verdicts FINAL")
                   .result_rows[0][0])
    finally:
        client.close()


def wait_for_judge(settings: RaiwatchSettings, timeout_s: float) -> tuple[int, int]:
    """(judged, routed): waits until every verdict routed to the judge (the records on its
    internal topic) is judged in ClickHouse, or the timeout."""
    from ..streams.topics import PipelineTopics
    from .topic_reader import committed_records

    routed = len(committed_records(settings, PipelineTopics.of(settings).judge))
    deadline, judged = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        judged = judged_count(settings)
        if judged >= routed:
            break
        time.sleep(1.0)
    return judged, routed


def run_demo(settings: RaiwatchSettings, requests: int, malformed: int, seed: int, timeout_s: float,
             json_output: bool, tier: str = "trained", judge_share: float = 0.02) -> None:
    console = Console(stderr=True)
    with console.status("starting Kafka and ClickHouse..."):
        stack.up(settings, provision=False)
    # A fresh topic prefix and database per run, so the counts below are this run's alone.
    run_id = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
    run = settings.replace(kafka__topic_prefix=f"{settings.kafka.topic_prefix}demo{run_id}.",
                           clickhouse__database=f"demo_{run_id}", screen__checks=demo_checks(settings, tier))
    run = with_demo_judge(run, judge_share)
    from ..schemas.clickhouse.migrate import migrate
    from .topics import create_topics

    create_topics(run)
    migrate(run)
    work = Path(tempfile.mkdtemp(prefix="raiwatch-demo-"))
    traffic = work / "traffic.jsonl"
    total = write_traffic(traffic, requests, malformed, seed)
    console.print(f"run {run_id}: {total} messages ({requests} requests, {malformed} malformed) -> "
                  f"topics {run.kafka.topic_prefix}*, database {run.clickhouse.database}; screen: {tier} tier "
                  f"({', '.join(spec.name for spec in run.screen.checks)})"
                  + (f"; judge: {run.judge.check.name} on {judge_share:.0%} of requests" if run.judge.check else ""))
    worker = start_worker(run, work / "worker.log")
    try:
        started = time.monotonic()
        with console.status("replaying traffic..."):
            asyncio.run(replay(run, traffic))
        with console.status("waiting for every verdict and dead letter in ClickHouse..."):
            counts = wait_for_counts(run, requests, malformed, timeout_s, worker=worker)
        elapsed = time.monotonic() - started
        judged = routed = 0
        if run.judge.check is not None:
            with console.status(f"waiting for the judge ({run.judge.check.name}, {judge_share:.0%} sampled)..."):
                judged, routed = wait_for_judge(run, timeout_s)
            if judged < routed:
                console.print(f"[yellow]the judge finished {judged} of {routed} routed verdicts within {timeout_s:.0f}s")
    finally:
        stop_worker(worker)
    summary = summarize(run)
    if json_output:
        judge = {"check": run.judge.check.name if run.judge.check else None, "routed": routed, "judged": judged,
                 "scored": scored_judge_rows(run)}
        print(json.dumps({"run": run_id, "tier": tier, "seconds": round(elapsed, 1), "judge": judge,
                          "verdicts": counts.verdicts,
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
