"""The join's state machine, free of Kafka so it can be tested directly.

A request's entry in the join store (`state_store`: one dict per request_id) goes: absent ->
pending (one side stored) -> done (joined or timed out; only event ids kept, until purged).
Decisions are pure functions of the entry, the incoming event and the clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..schemas.dead_letters import DeadLetterReason
from ..schemas.traffic import OutputEventV1, PromptEventV1
from .messages import JoinedRequest

Side = Literal["prompt", "output"]
OTHER: dict[Side, Side] = {"prompt": "output", "output": "prompt"}


@dataclass(frozen=True)
class Store:
    """Keep the entry; nothing to emit yet."""


@dataclass(frozen=True)
class Emit:
    """The request is complete (or timed out): screen it."""

    joined: JoinedRequest


@dataclass(frozen=True)
class Skip:
    """A repeat of an event already handled."""


@dataclass(frozen=True)
class Reject:
    """Cannot be joined; goes to the DLQ with this reason."""

    reason: DeadLetterReason
    detail: str


Action = Store | Emit | Skip | Reject


def new_entry(partition: int, now_ms: int, ts_ms: int, traceparent: str = "") -> dict:
    """An empty pending entry (table values are JSON dicts)."""
    return {"partition": partition, "first_seen_ms": now_ms, "first_ts_ms": ts_ms, "latest_ts_ms": ts_ms,
            "prompt": None, "output": None, "prompt_event_id": "", "output_event_id": "",
            "done": False, "done_ms": 0, "partial": False, "traceparent": traceparent}


def on_event(
    entry: dict | None, side: Side, event: PromptEventV1 | OutputEventV1, partition: int, ts_ms: int, now_ms: int,
    traceparent: str = "",
) -> tuple[dict, Action]:
    """Apply one decoded event to the request's entry (`traceparent`: the record's trace
    context, if it came with one; the prompt's wins)."""
    entry = dict(entry) if entry is not None else new_entry(partition, now_ms, ts_ms)
    if traceparent and (side == "prompt" or not entry.get("traceparent")):
        entry["traceparent"] = traceparent
    seen_id = entry[f"{side}_event_id"]
    if seen_id == event.event_id:
        return entry, Skip()
    if seen_id:
        return entry, Reject(DeadLetterReason.CONFLICTING_EVENT,
                             f"request {event.request_id} already has {side} event {seen_id!r}; got {event.event_id!r}")
    if entry["done"]:
        return entry, Reject(DeadLetterReason.LATE_ARRIVAL,
                             f"{side} of request {event.request_id} arrived after the join timeout; "
                             "the request was screened without it")
    entry[f"{side}_event_id"] = event.event_id
    entry[side] = event  # serialised only when the changelog is written
    entry["latest_ts_ms"] = max(entry["latest_ts_ms"], ts_ms)
    if entry[OTHER[side]] is None:
        return entry, Store()
    return _finish(entry, now_ms, partial=False)


def should_expire(entry: dict, now_ms: int, timeout_ms: int, watermark_ms: int | None, missing_side_caught_up: bool) -> bool:
    """A pending entry times out when both input topics have been read past it in event time,
    or when it has waited `timeout_ms` and the worker has been caught up with the missing
    side's partition for that long (see `input_progress`): the counterpart is not in a backlog."""
    if entry["done"]:
        return False
    if watermark_ms is not None and watermark_ms - entry["first_ts_ms"] >= timeout_ms:
        return True
    return now_ms - entry["first_seen_ms"] >= timeout_ms and missing_side_caught_up


def expire(entry: dict, now_ms: int) -> tuple[dict, Emit]:
    """Screen a pending entry on what it has."""
    return _finish(dict(entry), now_ms, partial=True)


def missing_side(entry: dict) -> Side:
    """The side a pending entry waits for."""
    return "output" if entry["prompt"] is not None else "prompt"


def should_purge(entry: dict, now_ms: int, retention_ms: int) -> bool:
    """Done entries are forgotten after `retention_ms` (late duplicates within it are dropped)."""
    return entry["done"] and now_ms - entry["done_ms"] >= retention_ms


def written_ms(entry: dict) -> int:
    """When the entry was last written (the store keeps entries in write order)."""
    return entry["done_ms"] if entry["done"] else entry["first_seen_ms"]


def _event(value: object, model: type[PromptEventV1] | type[OutputEventV1]) -> PromptEventV1 | OutputEventV1 | None:
    """A stored side: the event itself, or its JSON form when restored from the changelog."""
    if value is None or isinstance(value, model):
        return value
    return model.model_validate(value)


def _finish(entry: dict, now_ms: int, partial: bool) -> tuple[dict, Emit]:
    prompt, output = _event(entry["prompt"], PromptEventV1), _event(entry["output"], OutputEventV1)
    joined = JoinedRequest(
        request_id=(prompt or output).request_id,
        prompt=prompt,
        output=output,
        partial=partial,
        first_seen_ms=entry["first_seen_ms"],
        joined_ms=now_ms,
        input_published_ms=entry["latest_ts_ms"],
        traceparent=entry.get("traceparent", ""),
    )
    entry.update(done=True, done_ms=now_ms, partial=partial, prompt=None, output=None)
    return entry, Emit(joined)
