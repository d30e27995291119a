"""The regression watch: every `regression.interval_s`, read the closed minutes of the per-minute
verdict metrics (ClickHouse, migration 0008), feed them to the `RegressionBook` (always-valid
tests of each candidate version against its baseline, CUSUMs of each version against its own
past), publish what they raise to rai.alerts (kind "regression" or "drift"), and store the state.

Why from ClickHouse and not from rai.verdicts: the tests need every verdict of a key in one place,
while rai.verdicts is partitioned by request; the per-minute views hold exactly those counts
(exact under retries and judge revisions), and batching by minute loses nothing the
conditional test needs. A minute is read once it ended `regression.lateness_s` ago, and read
again for `regression.recheck_minutes`: what the pipeline stored late since counts then, once.

Restarts: the state (tests, CUSUMs, versions seen, the last minute read) is stored in
`regression_state` after each round, and read back on start; a watch killed between publishing
and storing reads the same minutes again and publishes the same alerts with the same ids
(the alerts table keeps one of each). The first start reads the last hour.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta

from ..schemas.alerts import AlertV1
from ..schemas.common import ModelRef, Pillar, Severity
from .regression_book import Finding, RegressionBook, VersionCounts
from .periodic_part import PeriodicPart
from .runtime.context import StageContext

log = logging.getLogger(__name__)

WATCH_ID = "default"
FIRST_START_LOOKBACK = timedelta(hours=1)
MINUTES_SQL = (
    "SELECT minute, model_name, model_version, model_adapter, tenant, pillar, category, "
    "sum(requests), sum(violations), sum(over_refusals) FROM verdict_metrics_1m "
    "WHERE minute > {after:DateTime} AND minute <= {upto:DateTime} "
    "GROUP BY minute, model_name, model_version, model_adapter, tenant, pillar, category ORDER BY minute"
)
SEVERITY = {"regression": Severity.HIGH, "drift": Severity.MEDIUM, "resolved": Severity.INFO}


def version_id(version: str, adapter: str) -> str:
    """The unit compared: a version, or a version with its LoRA adapter."""
    return f"{version}+{adapter}" if adapter else version


def minutes_from_rows(rows: list[tuple]) -> dict[datetime, list[VersionCounts]]:
    """Rows of `MINUTES_SQL` -> per minute, the counts of each model version and tenant."""
    requests: dict[tuple, int] = {}
    events: dict[tuple, dict[tuple[str, str], tuple[int, int]]] = {}
    for minute, model, version, adapter, tenant, pillar, category, n, violations, over_refusals in rows:
        key = (minute.replace(tzinfo=UTC) if minute.tzinfo is None else minute, model, version_id(version, adapter), tenant)
        if pillar == "" and category == "":
            requests[key] = int(n)
        elif violations or over_refusals:
            events.setdefault(key, {})[(pillar, category)] = (int(violations), int(over_refusals))
    by_minute: dict[datetime, list[VersionCounts]] = {}
    for key, n in sorted(requests.items()):
        if n > 0:
            by_minute.setdefault(key[0], []).append(VersionCounts(key[1], key[2], key[3], n, events.get(key, {})))
    return by_minute


def alert_for(finding: Finding, policy_id: str, policy_version: int) -> AlertV1:
    version, _, adapter = finding.version.partition("+")
    key = "|".join(["regression" if finding.kind != "drift" else "drift", finding.model, finding.version,
                    finding.baseline, finding.tenant, finding.pillar, finding.category, finding.metric])
    alert_id = hashlib.sha256(f"{finding.kind}|{key}|{finding.minute.isoformat()}".encode()).hexdigest()[:32]
    n = finding.numbers
    if finding.kind == "drift":
        summary = (f"{finding.model} {finding.version} ({finding.tenant}): {finding.metric} rate in "
                   f"{finding.pillar}/{finding.category} rose above {n['ratio']:.1f}x its reference "
                   f"{n['reference_rate']:.2%}")
    else:
        state = "resolved" if finding.kind == "resolved" else "regression"
        summary = (f"{state}: {finding.model} {finding.version} vs {finding.baseline} ({finding.tenant}), "
                   f"{finding.metric} in {finding.pillar}/{finding.category}: {n['candidate_rate']:.2%} vs "
                   f"{n['baseline_rate']:.2%}, odds ratio {n['odds_ratio']:.2f} "
                   f"[{n['ci_low']:.2f}, {n['ci_high']:.2f}], n={int(n['candidate_requests'])}/"
                   f"{int(n['baseline_requests'])}")
    return AlertV1(
        event_id=alert_id, ts=datetime.now(UTC), alert_id=alert_id,
        kind="drift" if finding.kind == "drift" else "regression", dedup_key=key, window_start=finding.minute,
        tenant=finding.tenant, model=ModelRef(name=finding.model, version=version, adapter=adapter),
        pillar=Pillar(finding.pillar) if finding.pillar in Pillar._value2member_map_ else None,
        category=finding.category, severity=SEVERITY[finding.kind], policy_id=policy_id,
        policy_version=policy_version, summary=summary,
        details={**n, "resolved": 1.0 if finding.kind == "resolved" else 0.0})


class RegressionWatch(PeriodicPart):
    """A supervised part of the feeds (see the module docstring)."""

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx.settings, ctx.settings.regression.interval_s)
        self.ctx, self.config = ctx, ctx.settings.regression
        self.book: RegressionBook | None = None
        self.rounds = 0

    def load(self) -> None:
        state = self.load_state(WATCH_ID)
        self.book = RegressionBook.from_state(self.config, state) if state else RegressionBook(self.config)
    async def round(self, now: datetime | None = None) -> list[Finding]:
        """Read the minutes closed since the last round, publish their findings, store the state."""
        assert self.book is not None
        now = now or datetime.now(UTC)
        upto = (now - timedelta(seconds=self.config.lateness_s + 60)).replace(second=0, microsecond=0)
        recheck = timedelta(minutes=self.config.recheck_minutes)
        after = (self.book.cursor - recheck) if self.book.cursor else (upto - FIRST_START_LOOKBACK)
        if upto <= after:
            return []
        self.book.registry_baselines = await asyncio.to_thread(self._promotions)
        rows = await asyncio.to_thread(self.query, MINUTES_SQL, {"after": after, "upto": upto})
        findings: list[Finding] = []
        for minute, counts in sorted(minutes_from_rows(rows).items()):
            findings += self.book.add_counts(minute, counts)
        self.book.cursor = upto
        self.book.forget_before(upto - recheck + timedelta(minutes=1))
        policy = self.ctx.policy
        for finding in findings:
            alert = alert_for(finding, policy.policy_id, policy.version)
            log.warning("%s", alert.summary)
            await self.publish(self.ctx.topics.alerts, alert.model_dump_json().encode(), alert.dedup_key.encode())
        await asyncio.to_thread(self.save_state, WATCH_ID, self.book.cursor, self.book.to_state())
        self.rounds += 1
        return findings

    def _promotions(self) -> dict[str, str]:
        """What the adapter registry's promotions declare (a promoted adapter against the one it
        replaced): its live traffic is compared with the old's."""
        from ..models.adapter_registry import AdapterRegistry

        return AdapterRegistry(self.settings).baselines()
