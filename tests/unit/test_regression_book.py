"""The regression watch's bookkeeping on synthetic minutes: baselines, one alarm per regressed
key and none for A/A keys, resolution, and a restart from stored state that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from raiwatch.ops.settings import RegressionSettings
from raiwatch.streams.regression_book import RegressionBook, VersionCounts
from raiwatch.streams.regression_watch import alert_for, minutes_from_rows

START = datetime(2026, 11, 1, tzinfo=UTC)
PII = ("privacy_security", "pii.email")
OVER = ("controllability", "over_refusal")


def _minute(rng, candidate_rate: float, per_minute: int = 200) -> list[VersionCounts]:
    """Two tenants; acme's candidate (version 2) leaks PII at `candidate_rate`, everything else
    at 5%; over-refusals at 3% everywhere."""
    rows = []
    for tenant in ("acme", "globex"):
        for version in ("1", "2"):
            rate = candidate_rate if (tenant, version) == ("acme", "2") else 0.05
            rows.append(VersionCounts("chat", version, tenant, per_minute, {
                PII: (int(rng.binomial(per_minute, rate)), 0), OVER: (0, int(rng.binomial(per_minute, 0.03)))}))
    return rows


def _feed(book: RegressionBook, minutes: list[list[VersionCounts]], first: int = 0) -> list:
    found = []
    for i, counts in enumerate(minutes):
        found += book.add_minute(START + timedelta(minutes=first + i), counts)
    return found


def test_baselines_declared_or_the_version_seen_before() -> None:
    book = RegressionBook(RegressionSettings(baselines={"chat:3": "1"}))
    book.add_minute(START, [VersionCounts("chat", "1", "t", 10, {})])
    book.add_minute(START + timedelta(minutes=1), [VersionCounts("chat", "10", "t", 10, {}),
                                                   VersionCounts("chat", "2", "t", 10, {})])
    assert book.baseline_of("chat", "1") is None
    assert book.baseline_of("chat", "2") == "1"  # same minute as 10: natural order puts 2 first
    assert book.baseline_of("chat", "10") == "2"
    assert book.baseline_of("chat", "3") == "1"  # declared
    book.registry_baselines = {"chat:10": "1"}  # a promotion in the adapter registry
    assert book.baseline_of("chat", "10") == "1"


def test_a_doubled_rate_raises_one_alarm_and_aa_keys_none() -> None:
    rng = np.random.default_rng(11)
    book = RegressionBook(RegressionSettings())
    found = _feed(book, [_minute(rng, 0.10) for _ in range(60)])
    assert [(f.kind, f.tenant, f.pillar, f.category, f.metric, f.version, f.baseline) for f in found] == [
        ("regression", "acme", *PII, "violation", "2", "1")]
    numbers = found[0].numbers
    assert numbers["ci_low"] > 1.0 and numbers["candidate_rate"] > numbers["baseline_rate"]
    assert numbers["alpha"] == RegressionSettings().alpha / RegressionSettings().keys
    alert = alert_for(found[0], "raiwatch.policies", 12)
    assert alert.kind == "regression" and alert.model.version == "2" and alert.pillar.value == PII[0]
    assert alert.policy_version == 12 and "odds ratio" in alert.summary and alert.details["resolved"] == 0.0


def test_an_open_regression_resolves_once_the_candidate_is_fixed() -> None:
    rng = np.random.default_rng(12)
    book = RegressionBook(RegressionSettings())
    opened = _feed(book, [_minute(rng, 0.12) for _ in range(30)])
    assert [f.kind for f in opened] == ["regression"]
    later = _feed(book, [_minute(rng, 0.05, per_minute=2000) for _ in range(120)], first=30)
    assert [f.kind for f in later] == ["resolved"]


def test_restart_from_state_gives_the_same_findings() -> None:
    minutes = [_minute(np.random.default_rng(13), 0.10) for _ in range(1)]
    rng = np.random.default_rng(13)
    minutes = [_minute(rng, 0.10) for _ in range(60)]
    straight = _feed(RegressionBook(RegressionSettings()), minutes)
    first = RegressionBook(RegressionSettings())
    found = _feed(first, minutes[:17])
    restarted = RegressionBook.from_state(RegressionSettings(), first.to_state())
    found += _feed(restarted, minutes[17:], first=17)
    assert [(f.kind, f.minute, f.numbers["log_evidence"]) for f in found] == [
        (f.kind, f.minute, f.numbers["log_evidence"]) for f in straight]


def test_minutes_from_metrics_rows() -> None:
    m = datetime(2026, 11, 1, 10, 0)
    rows = [(m, "chat", "2", "lora-a", "acme", "", "", 100, 7, 1),
            (m, "chat", "2", "lora-a", "acme", *PII, 5, 5, 0),
            (m, "chat", "2", "lora-a", "acme", "safety", "S1.violent_crimes", 0, 0, 0)]  # a revision took it back
    (counts,) = minutes_from_rows(rows)[m.replace(tzinfo=UTC)]
    assert counts.version == "2+lora-a" and counts.requests == 100 and counts.events == {PII: (5, 0)}


def test_rows_stored_late_count_once() -> None:
    rng = np.random.default_rng(14)
    minutes = [_minute(rng, 0.10) for _ in range(40)]
    whole = RegressionBook(RegressionSettings())
    found_whole = _feed(whole, minutes)
    late = RegressionBook(RegressionSettings())
    found_late = []
    for i, counts in enumerate(minutes):  # each minute read twice: first a part, then all of it
        at = START + timedelta(minutes=i)
        part = [VersionCounts(c.model, c.version, c.tenant, c.requests // 2,
                              {k: (v[0] // 2, v[1] // 2) for k, v in c.events.items()}) for c in counts]
        found_late += late.add_counts(at, part)
        found_late += late.add_counts(at, counts)
        found_late += late.add_counts(at, counts)  # nothing new: nothing fed
    key = next(k for k in whole.tests if "globex" in k and "pii.email" in k)
    assert late.tests[key]["test"].candidate_requests == whole.tests[key]["test"].candidate_requests
    assert late.tests[key]["test"].candidate_events == whole.tests[key]["test"].candidate_events
    assert [(f.kind, f.tenant, f.category) for f in found_late] == [(f.kind, f.tenant, f.category) for f in found_whole]
    late.forget_before(START + timedelta(minutes=30))
    assert min(late.fed) == (START + timedelta(minutes=30)).isoformat()
