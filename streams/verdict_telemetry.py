"""The spans and metrics of a verdict.

One span per request, `raiwatch.request`, in the producer's trace when it sent a `traceparent`:
from the first side's arrival at the join to the verdict's row in ClickHouse (the join's wait in
`raiwatch.join_wait_ms`), with the screen's `gen_ai.evaluation.result` events (one per check) and
the sink's `raiwatch.stored` event; a judged request adds a child span, `raiwatch.judge`. The stages that decide a verdict only name its span
(two ids in the verdict record's headers: `traceparent` and `raiwatch-parent`); the ClickHouse
sink, which decodes every verdict record anyway, builds the span from the record (times from the
verdict's own latencies and the record's timestamp, events from its check results) and ends it
when the row is in. So the stages' hot path spends one random id and two short headers per
request on tracing, and the spans describe exactly what was committed. (Measured: a span per
stage built where it happens cost a fifth of the pipeline's throughput.)

Metrics are counted once per batch by the stage that decides them, after its checkpoint commits.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from ..schemas.verdicts import Stage, VerdictV1
from .runtime.checkpoint import Checkpoint
from .telemetry import (
    EVALUATION_EVENT, TRACEPARENT, AttributeValue, SpanRecord, Telemetry, format_traceparent, header, new_ids,
    new_span_id, new_trace_id, parse_traceparent,
)

PARENT_HEADER = "raiwatch-parent"  # the parent span id of the span in `traceparent`, hex (0: a root)
STORED_EVENT = "raiwatch.stored"


def screen_headers(traceparent: str) -> list[tuple[str, bytes]]:
    """The trace headers of a screened request's verdict: a new request span, in the producer's
    trace (a child of its span) when it sent one."""
    if traceparent and (parent := parse_traceparent(traceparent)) is not None:
        trace_id, parent_id = parent
        span_id = new_span_id()
    else:
        (trace_id, span_id), parent_id = new_ids(), 0
    return [(TRACEPARENT, b"00-%032x-%016x-01" % (trace_id, span_id)), (PARENT_HEADER, b"%016x" % parent_id)]


def judge_headers(headers: Any) -> list[tuple[str, bytes]]:
    """The trace headers of a judged verdict: a new judge span, a child of the request span."""
    parent = parse_traceparent(header(headers))
    trace_id, parent_id = parent if parent else (new_trace_id(), 0)
    return [(TRACEPARENT, format_traceparent(trace_id, new_span_id())), (PARENT_HEADER, f"{parent_id:016x}".encode())]


def verdict_span(verdict: VerdictV1, headers: Any, record_ms: int) -> SpanRecord | None:
    """The span a stored verdict record stands for, None when it carries no trace:
    `raiwatch.request` for a screen verdict (from the first side's arrival; events: joined, one
    evaluation result per check) or `raiwatch.judge` for a judge revision (the judge's call; its
    evaluation result). The sink ends it, with a `raiwatch.stored` event, once the row is in."""
    context = parse_traceparent(header(headers))
    if context is None:
        return None
    trace_id, span_id = context
    try:
        parent_id = int(header(headers, PARENT_HEADER) or b"0", 16)
    except ValueError:
        parent_id = 0
    screened_ns = record_ms * 1_000_000
    latency = verdict.stage_latency_ms
    events = _evaluations(verdict, screened_ns)
    if verdict.stage is Stage.JUDGE:
        start_ns, name = screened_ns - int(latency.get("judge", 0.0) * 1_000_000), "raiwatch.judge"
    else:
        waited_ms = latency.get("join_wait", 0.0) + latency.get("screen", 0.0)
        start_ns, name = screened_ns - int(waited_ms * 1_000_000), "raiwatch.request"
    attributes = _attributes(verdict)
    if "join_wait" in latency:
        attributes["raiwatch.join_wait_ms"] = float(latency["join_wait"])
    return SpanRecord(name, trace_id, span_id, parent_id, start_ns, screened_ns, attributes, events,
                      remote_parent=bool(parent_id))


def stored(span: SpanRecord, at_ns: int) -> SpanRecord:
    """`span` ended when its verdict's row was in ClickHouse."""
    span.events.append((STORED_EVENT, at_ns, {}))
    span.end_ns = max(span.end_ns, at_ns)
    return span


def _attributes(verdict: VerdictV1) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.request.model": verdict.model.name, "raiwatch.request_id": verdict.request_id,
        "raiwatch.tenant": verdict.tenant, "raiwatch.violation": verdict.violation,
        "raiwatch.over_refusal": verdict.over_refusal,
    }
    if verdict.categories:
        attributes["raiwatch.categories"] = ",".join(verdict.categories)
    return attributes


def _evaluations(verdict: VerdictV1, at_ns: int) -> list[tuple[str, int, dict[str, AttributeValue]]]:
    """One `gen_ai.evaluation.result` event per check result (the semantic conventions' names)."""
    return [(EVALUATION_EVENT, at_ns, _evaluation(check.check, check.score, check.flagged, check.error))
            for check in verdict.checks]


_EVALUATIONS: dict[tuple, dict[str, AttributeValue]] = {}


def _evaluation(check: str, score: float | None, flagged: bool, error: str) -> dict[str, AttributeValue]:
    """An evaluation event's attributes; the same result is the same (shared, never changed) dict."""
    key = (check, score, flagged, error)
    cached = _EVALUATIONS.get(key)
    if cached is not None:
        return cached
    attributes: dict[str, AttributeValue] = {"gen_ai.evaluation.name": check}
    if score is None:
        attributes["gen_ai.evaluation.score.label"] = "unscored"
        if error:
            attributes["gen_ai.evaluation.explanation"] = error[:500]
    else:
        attributes["gen_ai.evaluation.score.value"] = float(score)
        attributes["gen_ai.evaluation.score.label"] = "flagged" if flagged else "pass"
    if len(_EVALUATIONS) < 10_000:
        _EVALUATIONS[key] = attributes
    return attributes


class VerdictMetrics:
    """One batch's verdict counts, added to the telemetry's counters once the checkpoint commits."""

    def __init__(self, telemetry: Telemetry, stage: str) -> None:
        self.telemetry, self.stage = telemetry, stage
        self.counts: Counter = Counter()
        self.latencies: list[float] = []

    def add(self, verdict: VerdictV1) -> None:
        if not self.telemetry.metering:
            return
        self.counts[("verdicts", ())] += 1
        if verdict.violation:
            for pillar in verdict.pillars or ["(none)"]:
                self.counts[("violations", (("pillar", getattr(pillar, "value", pillar)),))] += 1
        if verdict.over_refusal:
            self.counts[("over_refusals", ())] += 1
        if verdict.input_published_ms:
            self.latencies.append(max(0.0, time.time() - verdict.input_published_ms / 1000))

    def publish_on(self, checkpoint: Checkpoint) -> None:
        if self.counts:
            checkpoint.after_commit(self._publish)

    def _publish(self) -> None:
        stage = {"raiwatch.stage": self.stage}
        for (instrument, attributes), amount in self.counts.items():
            self.telemetry.count(instrument, amount, {**stage, **dict(attributes)})
        for latency in self.latencies:
            self.telemetry.record("request_latency", latency, stage)
