"""Alert deduplication: one alert per key (tenant, model, pillar, category, policy) and window,
across the partitions a worker owns, remembered in the store so a crash cannot repeat it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.schemas.alerts import AlertV1
from raiwatch.schemas.common import Severity
from raiwatch.streams.alerting import Alerter
from raiwatch.streams.policy import DEFAULT_POLICY
from raiwatch.streams.runtime.state_store import ChangelogStore

from .fakes import RecordingCheckpoint
from .test_verdicts import screen

WINDOW_S = 300


def violation(at: datetime, request_id: str = "r1"):
    _, _, verdict = screen("Contact?", "Mail jane@example.com")
    assert verdict.violation and verdict.severity is Severity.HIGH
    return verdict.model_copy(update={"ts": at, "request_id": request_id})


def publish(alerter: Alerter, verdicts: list) -> list[AlertV1]:
    checkpoint = RecordingCheckpoint()
    asyncio.run(alerter.publish(verdicts, checkpoint, DEFAULT_POLICY))
    alerter.store.commit()
    return [AlertV1.model_validate_json(v) for v in checkpoint.to("alerts")]


def test_one_alert_per_key_and_window_across_partitions() -> None:
    store = ChangelogStore(lambda **_: None, "changelog")
    alerter = Alerter(RaiwatchSettings().replace(alerts__window_s=WINDOW_S), store, "alerts")
    start = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    first = publish(alerter, [(0, violation(start)), (0, violation(start + timedelta(seconds=5), "r2"))])
    assert len(first) == 1 and first[0].kind == "violation"
    # The same key later in the window, on another partition this worker owns: deduplicated.
    assert publish(alerter, [(1, violation(start + timedelta(seconds=60), "r3"))]) == []
    # The next window alerts again, with another (deterministic) id.
    later = publish(alerter, [(1, violation(start + timedelta(seconds=WINDOW_S + 1), "r4"))])
    assert len(later) == 1 and later[0].alert_id != first[0].alert_id


def test_a_checkpoint_that_aborts_forgets_its_marks() -> None:
    store = ChangelogStore(lambda **_: None, "changelog")
    alerter = Alerter(RaiwatchSettings(), store, "alerts")
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    checkpoint = RecordingCheckpoint()
    asyncio.run(alerter.publish([(0, violation(at))], checkpoint, DEFAULT_POLICY))
    store.rollback()  # the transaction aborted: its alert never became visible
    assert len(publish(alerter, [(0, violation(at))])) == 1


def test_verdicts_below_the_policy_threshold_do_not_alert() -> None:
    store = ChangelogStore(lambda **_: None, "changelog")
    alerter = Alerter(RaiwatchSettings(), store, "alerts")
    _, _, clean = screen("What is the capital of Australia?", "Canberra.")
    assert publish(alerter, [(0, clean)]) == []
