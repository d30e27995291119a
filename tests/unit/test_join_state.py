"""The join state machine: out-of-order arrival, duplicates, conflicts, timeouts, purging."""

from __future__ import annotations

from raiwatch.schemas.common import ModelRef
from raiwatch.schemas.dead_letters import DeadLetterReason
from raiwatch.schemas.traffic import OutputEventV1, PromptEventV1
from raiwatch.streams.join_state import (
    Emit, Reject, Skip, Store, expire, missing_side, on_event, should_expire, should_purge,
)

MODEL = ModelRef(name="m", version="1")


def prompt(request_id: str = "r1", event_id: str = "p1") -> PromptEventV1:
    return PromptEventV1(event_id=event_id, request_id=request_id, model=MODEL, prompt="hello")


def output(request_id: str = "r1", event_id: str = "o1") -> OutputEventV1:
    return OutputEventV1(event_id=event_id, request_id=request_id, model=MODEL, output="hi")


def test_prompt_then_output_joins() -> None:
    entry, action = on_event(None, "prompt", prompt(), 2, ts_ms=1000, now_ms=5000)
    assert isinstance(action, Store) and entry["partition"] == 2
    entry, action = on_event(entry, "output", output(), 2, ts_ms=1500, now_ms=5100)
    assert isinstance(action, Emit)
    joined = action.joined
    assert joined.prompt.prompt == "hello" and joined.output.output == "hi" and not joined.partial
    assert joined.first_seen_ms == 5000 and joined.joined_ms == 5100 and joined.input_published_ms == 1500
    assert entry["done"] and entry["prompt"] is None  # texts are not kept once joined


def test_output_first_joins_too() -> None:
    entry, _ = on_event(None, "output", output(), 0, 1000, 1000)
    assert missing_side(entry) == "prompt"
    _, action = on_event(entry, "prompt", prompt(), 0, 900, 1200)
    assert isinstance(action, Emit) and action.joined.input_published_ms == 1000


def test_repeated_event_is_processed_once() -> None:
    entry, _ = on_event(None, "prompt", prompt(), 0, 1, 1)
    entry, action = on_event(entry, "prompt", prompt(), 0, 2, 2)
    assert isinstance(action, Skip)
    entry, action = on_event(entry, "output", output(), 0, 3, 3)
    assert isinstance(action, Emit)
    for event, side in ((output(), "output"), (prompt(), "prompt")):
        _, action = on_event(entry, side, event, 0, 4, 4)
        assert isinstance(action, Skip)


def test_conflicting_second_event_is_rejected() -> None:
    entry, _ = on_event(None, "prompt", prompt(), 0, 1, 1)
    _, action = on_event(entry, "prompt", prompt(event_id="p2"), 0, 2, 2)
    assert isinstance(action, Reject) and action.reason is DeadLetterReason.CONFLICTING_EVENT


def test_timeout_by_watermark_and_by_idleness() -> None:
    entry, _ = on_event(None, "prompt", prompt(), 0, ts_ms=10_000, now_ms=50_000)
    assert not should_expire(entry, now_ms=50_500, timeout_ms=1000, watermark_ms=10_500, missing_side_caught_up=False)
    assert should_expire(entry, now_ms=50_500, timeout_ms=1000, watermark_ms=11_000, missing_side_caught_up=False)
    # No watermark (the other topic never delivered): wall clock, but only when that side is idle.
    assert not should_expire(entry, now_ms=52_000, timeout_ms=1000, watermark_ms=None, missing_side_caught_up=False)
    assert should_expire(entry, now_ms=52_000, timeout_ms=1000, watermark_ms=None, missing_side_caught_up=True)
    assert not should_expire(entry, now_ms=50_500, timeout_ms=1000, watermark_ms=None, missing_side_caught_up=True)


def test_expired_entry_is_partial_and_a_late_side_is_rejected() -> None:
    entry, _ = on_event(None, "prompt", prompt(), 0, 1, 1)
    entry, emit = expire(entry, now_ms=99)
    assert emit.joined.partial and emit.joined.output is None and emit.joined.prompt is not None
    assert not should_expire(entry, 10**9, 1, 10**9, True)
    _, action = on_event(entry, "output", output(), 0, 100, 100)
    assert isinstance(action, Reject) and action.reason is DeadLetterReason.LATE_ARRIVAL


def test_done_entries_are_purged_after_retention() -> None:
    entry, _ = on_event(None, "prompt", prompt(), 0, 1, 1)
    assert not should_purge(entry, 10**9, 10)  # pending entries are never purged
    entry, _ = on_event(entry, "output", output(), 0, 2, 2)
    assert not should_purge(entry, 11, 10) and should_purge(entry, 12, 10)
