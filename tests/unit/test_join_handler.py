"""The join handler's timeouts and purging, on its real store (no broker: the store's Kafka side
is not used until a checkpoint commits): a one-sided request expires only once the worker has
been caught up with the missing side for the whole timeout; done requests and alert marks are
forgotten after their retention."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.schemas.verdicts import VerdictV1
from raiwatch.streams.app import stage_context
from raiwatch.streams.join import JoinHandler

from .fakes import FakeRecord, RecordingCheckpoint

NOW_S = 2_000_000_000.0


@pytest.fixture
def handler(monkeypatch) -> JoinHandler:
    clock = {"now": NOW_S}
    monkeypatch.setattr("raiwatch.streams.join.time.time", lambda: clock["now"])
    join = JoinHandler(stage_context(RaiwatchSettings().replace(join__timeout_s=10.0, join__retention_s=60.0)))
    join.clock = clock
    return join


def prompt_record(topics, request_id: str, offset: int) -> FakeRecord:
    body = {"schema_version": 1, "event_id": f"{request_id}-p", "request_id": request_id, "model": {"name": "m"},
            "prompt": "hello"}
    return FakeRecord(topics.prompts, 0, offset, request_id.encode(), orjson.dumps(body), int(NOW_S * 1000))


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_one_sided_request_expires_only_when_caught_up_for_the_timeout(handler: JoinHandler) -> None:
    topics = handler.topic_of
    checkpoint = RecordingCheckpoint()
    run(handler.process([prompt_record(handler.topics, "r1", 0)], checkpoint))
    handler.store.commit()
    assert checkpoint.sent == []  # waiting for its output
    handler.clock["now"] += 30  # long past the timeout, but the worker is not caught up
    later = RecordingCheckpoint()
    run(handler.tick(later))
    assert later.to(handler.topics.verdicts) == []
    # Caught up with the outputs partition for less than the timeout: still waits.
    handler.progress.caught_up_since[(topics["output"], 0)] = handler.clock["now"] - 5
    run(handler.tick(later))
    assert later.to(handler.topics.verdicts) == []
    handler.progress.caught_up_since[(topics["output"], 0)] = handler.clock["now"] - 11
    run(handler.tick(later))
    (verdict,) = [VerdictV1.model_validate_json(v) for v in later.to(handler.topics.verdicts)]
    assert verdict.request_id == "r1" and verdict.partial


def test_done_entries_and_expired_alert_marks_are_purged_after_their_retention(handler: JoinHandler) -> None:
    now_ms = int(NOW_S * 1000)
    store = handler.store
    store.put(0, "old", {"done": True, "done_ms": now_ms - 61_000, "first_seen_ms": 0})
    store.put(0, "alert|k|w1", {"alert_id": "a", "written_ms": now_ms - 61_000, "until_ms": now_ms - 1})
    store.put(0, "recent", {"done": True, "done_ms": now_ms - 1_000, "first_seen_ms": 0})
    store.put(0, "pending", {"done": False, "done_ms": 0, "first_seen_ms": now_ms - 100})
    store.commit()
    handler._purge(0, now_ms)
    store.commit()
    assert [key for key, _ in store.committed_items(0)] == ["recent", "pending"]
