"""The regression watch's bookkeeping, apart from any I/O: which version is whose baseline, one
always-valid test per candidate x tenant x pillar x category, one CUSUM per version x tenant x
pillar x category, and what each closed minute of counts changes.

Keys: every (pillar, category) the per-minute metrics hold a finding for; the rate watched there
is the violation rate, except at ('controllability', 'over_refusal') where it is the
over-refusal rate. A test starts at the key's first event (a minute without events says nothing
about the odds ratio), and counts its requests from then on.

One open regression per key: after an alarm the key's test starts afresh and the key stays open
(no further alarms) until the fresh test's interval for the odds ratio lies wholly below
`resolve_below_ratio`; then it resolves, and a new alarm may open it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from ..ops.settings import RegressionSettings
from .detectors import BernoulliCusum, RateRatioTest
from .verdicts import OVER_REFUSAL_FINDING


@dataclass(frozen=True)
class VersionCounts:
    """One closed minute of one model version for one tenant."""

    model: str
    version: str  # "version" or "version+adapter"
    tenant: str
    requests: int
    events: dict[tuple[str, str], tuple[int, int]]  # (pillar, category) -> (violations, over_refusals)


@dataclass(frozen=True)
class Finding:
    """What the watch reports: a regression opened or resolved, or a version's drift."""

    kind: str  # "regression" | "resolved" | "drift"
    minute: datetime
    model: str
    version: str
    baseline: str
    tenant: str
    pillar: str
    category: str
    metric: str
    numbers: dict[str, float]


SEP = "\x1f"  # joins key parts: no model, tenant or category name holds it


def metric_of(pillar: str, category: str) -> str:
    return "over_refusal" if (pillar, category) == OVER_REFUSAL_FINDING else "violation"


def _natural(version: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version)]


@dataclass
class RegressionBook:
    """The watch's state (JSON-serialisable through `to_state`/`from_state`)."""

    config: RegressionSettings
    first_seen: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> version -> ISO minute
    tests: dict[str, dict] = field(default_factory=dict)  # key -> {"test": RateRatioTest, "open": bool}
    cusums: dict[str, BernoulliCusum] = field(default_factory=dict)
    cursor: datetime | None = None  # the last minute read
    fed: dict[str, dict[str, dict]] = field(default_factory=dict)  # minute -> version key -> counts fed so far
    registry_baselines: dict[str, str] = field(default_factory=dict)  # promotions: 'model:version' -> replaced

    # --- baselines ---
    def baseline_of(self, model: str, version: str) -> str | None:
        """The declared baseline (settings, then the adapter registry's promotions), else the
        version of the same model first seen before this one (ties: the version that sorts first)."""
        declared = self.config.baselines.get(f"{model}:{version}") or self.registry_baselines.get(f"{model}:{version}")
        if declared is not None:
            return declared
        seen = self.first_seen.get(model, {})
        order = sorted(seen, key=lambda v: (seen[v], _natural(v)))
        position = order.index(version) if version in order else -1
        return order[position - 1] if position > 0 else None

    # --- one minute, read again while late rows may still arrive ---
    def add_counts(self, minute: datetime, counts: list[VersionCounts]) -> list[Finding]:
        """Feed what is new in a minute's counts since it was last read (the whole minute the
        first time): rows stored late still count, once. A late part of a minute is a batch
        of its own for the tests (which rows are late does not depend on their outcome). A
        count that went down (a judge revision cleared a violation) is not taken back."""
        seen = self.fed.setdefault(minute.isoformat(), {})
        deltas = []
        for row in counts:
            key = SEP.join((row.model, row.version, row.tenant))
            before = seen.get(key, {"requests": 0, "events": {}})
            events, stored = {}, dict(before["events"])
            for (pillar, category), (violations, over_refusals) in row.events.items():
                name = SEP.join((pillar, category))
                old = before["events"].get(name, [0, 0])
                events[(pillar, category)] = (max(violations - old[0], 0), max(over_refusals - old[1], 0))
                stored[name] = [max(violations, old[0]), max(over_refusals, old[1])]
            new_requests = max(row.requests - before["requests"], 0)
            events = {k: v for k, v in events.items() if sum(v)}
            if new_requests or events:
                deltas.append(VersionCounts(row.model, row.version, row.tenant, new_requests, events))
            seen[key] = {"requests": max(row.requests, before["requests"]), "events": stored}
        return self.add_minute(minute, deltas) if deltas else []

    def forget_before(self, minute: datetime) -> None:
        """Stop re-reading minutes before `minute` (their late rows no longer count here)."""
        for key in [k for k in self.fed if datetime.fromisoformat(k) < minute]:
            del self.fed[key]

    # --- one batch ---
    def add_minute(self, minute: datetime, counts: list[VersionCounts]) -> list[Finding]:
        """Feed one batch of a minute (all versions, all tenants); returns what it raised."""
        for row in counts:
            self.first_seen.setdefault(row.model, {}).setdefault(row.version, minute.isoformat())
        by_version = {(row.model, row.version, row.tenant): row for row in counts}
        findings = self._compare(minute, by_version) + self._drift(minute, counts)
        self.cursor = max(self.cursor, minute) if self.cursor else minute
        return findings

    def _compare(self, minute: datetime, by_version: dict[tuple[str, str, str], VersionCounts]) -> list[Finding]:
        found: list[Finding] = []
        for (model, version, tenant), candidate in by_version.items():
            baseline_version = self.baseline_of(model, version)
            baseline = by_version.get((model, baseline_version, tenant)) if baseline_version else None
            if baseline is None or candidate.requests <= 0 or baseline.requests <= 0:
                continue
            prefix = SEP.join((model, version, baseline_version, tenant)) + SEP
            keys = set(candidate.events) | set(baseline.events)
            keys |= {tuple(k.split(SEP)[4:6]) for k in self.tests if k.startswith(prefix)}
            for pillar, category in sorted(keys):
                metric = metric_of(pillar, category)
                index = 1 if metric == "over_refusal" else 0
                e_c = candidate.events.get((pillar, category), (0, 0))[index]
                e_b = baseline.events.get((pillar, category), (0, 0))[index]
                key = prefix + SEP.join((pillar, category, metric))
                entry = self.tests.get(key)
                if entry is None:
                    if e_c + e_b == 0:
                        continue
                    entry = self.tests[key] = {"test": self._new_test(), "open": False}
                test: RateRatioTest = entry["test"]
                test.update(e_c, candidate.requests, e_b, baseline.requests)
                base = dict(minute=minute, model=model, version=version, baseline=baseline_version, tenant=tenant,
                            pillar=pillar, category=category, metric=metric)
                if not entry["open"] and test.rejected:
                    found.append(Finding(kind="regression", numbers=self._numbers(test), **base))
                    entry["open"], entry["test"] = True, self._new_test()
                elif entry["open"] and test.candidate_requests > 0:
                    low, high = test.confidence_interval()
                    if high < self.config.resolve_below_ratio:
                        found.append(Finding(kind="resolved", numbers=self._numbers(test), **base))
                        entry["open"], entry["test"] = False, self._new_test()
        return found

    def _drift(self, minute: datetime, counts: list[VersionCounts]) -> list[Finding]:
        found: list[Finding] = []
        for row in counts:
            prefix = SEP.join((row.model, row.version, row.tenant)) + SEP
            keys = set(row.events) | {tuple(k.split(SEP)[3:5]) for k in self.cusums if k.startswith(prefix)}
            for pillar, category in sorted(keys):
                metric = metric_of(pillar, category)
                events = row.events.get((pillar, category), (0, 0))[1 if metric == "over_refusal" else 0]
                key = prefix + SEP.join((pillar, category, metric))
                cusum = self.cusums.get(key)
                if cusum is None:
                    cusum = self.cusums[key] = BernoulliCusum(
                        ratio=self.config.drift_ratio, alpha=self.config.drift_alpha,
                        reference_requests=self.config.drift_reference_requests)
                if cusum.update(events, row.requests):
                    found.append(Finding(kind="drift", minute=minute, model=row.model, version=row.version,
                                         baseline="", tenant=row.tenant, pillar=pillar, category=category,
                                         metric=metric, numbers={
                                             "reference_rate": float(cusum.reference_rate or 0.0),
                                             "ratio": cusum.ratio, "alpha": cusum.alpha,
                                             "minute_events": float(events), "minute_requests": float(row.requests)}))
        return found

    def _new_test(self) -> RateRatioTest:
        return RateRatioTest(alpha=self.config.alpha / self.config.keys, expected_ratio=self.config.expected_ratio,
                             spread=self.config.spread)

    @staticmethod
    def _numbers(test: RateRatioTest) -> dict[str, float]:
        rate_c, rate_b = test.rates()
        low, high = test.confidence_interval()
        return {"candidate_rate": rate_c, "baseline_rate": rate_b, "rate_difference": rate_c - rate_b,
                "odds_ratio": test.odds_ratio(), "ci_low": low, "ci_high": high,
                "candidate_requests": float(test.candidate_requests), "candidate_events": float(test.candidate_events),
                "baseline_requests": float(test.baseline_requests), "baseline_events": float(test.baseline_events),
                "alpha": test.alpha, "expected_ratio": test.expected_ratio, "spread": test.spread,
                "log_evidence": test.log_evidence, "threshold": test.threshold}

    # --- persistence ---
    def to_state(self) -> dict:
        return {"first_seen": self.first_seen, "cursor": self.cursor.isoformat() if self.cursor else None,
                "fed": self.fed,
                "tests": {k: {"open": v["open"], "test": v["test"].to_state()} for k, v in self.tests.items()},
                "cusums": {k: v.to_state() for k, v in self.cusums.items()}}

    @classmethod
    def from_state(cls, config: RegressionSettings, state: dict) -> RegressionBook:
        return cls(config=config, first_seen=state.get("first_seen", {}),
                   tests={k: {"open": v["open"], "test": RateRatioTest.from_state(v["test"])}
                          for k, v in state.get("tests", {}).items()},
                   cusums={k: BernoulliCusum.from_state(v) for k, v in state.get("cusums", {}).items()},
                   cursor=datetime.fromisoformat(state["cursor"]) if state.get("cursor") else None,
                   fed=state.get("fed", {}))
