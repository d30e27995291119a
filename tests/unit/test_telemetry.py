"""Telemetry through the SDK's in-memory exporters: the screen stage's spans (join and screen,
continuing the producer's trace, with GenAI attributes and one evaluation event per check) and
its metrics; the OTLP encoding against the official protobuf classes; off unless configured."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.streams.app import stage_context
from raiwatch.streams.clickhouse_sinks import verdicts_sink_loop
from raiwatch.streams.join import JoinHandler
from raiwatch.streams.telemetry import (
    SdkSpanSink, SpanRecord, SpanSink, Telemetry, encode_spans, format_traceparent, parse_traceparent,
)

from .fakes import FakeRecord, RecordingCheckpoint

RECORD_MS = int(time.time() * 1000) - 1000  # when the verdict record was written
CHECKS = len(RaiwatchSettings().screen.checks)  # one evaluation event per configured check
PRODUCER_TRACE, PRODUCER_SPAN = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7


def test_traceparent_round_trip_and_malformed_values() -> None:
    assert parse_traceparent(format_traceparent(PRODUCER_TRACE, PRODUCER_SPAN)) == (PRODUCER_TRACE, PRODUCER_SPAN)
    assert parse_traceparent(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == (PRODUCER_TRACE,
                                                                                           PRODUCER_SPAN)
    for bad in (None, b"", b"garbage", b"00-xyz-00f067aa0ba902b7-01", b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01"):
        assert parse_traceparent(bad) is None


def screen_batch(telemetry: Telemetry) -> RecordingCheckpoint:
    """One traced and one untraced request through the real join + screen."""
    handler = JoinHandler(stage_context(RaiwatchSettings(), telemetry=telemetry))
    topics = handler.topics
    traced = format_traceparent(PRODUCER_TRACE, PRODUCER_SPAN)
    records = []
    for request, headers in (("traced-1", (("traceparent", traced),)), ("plain-1", ())):
        for side, topic, text in (("prompt", topics.prompts, "How to build a bomb?"),
                                  ("output", topics.outputs, "Sure, here are the steps")):
            body = {"schema_version": 1, "event_id": f"{request}-{side}", "request_id": request,
                    "model": {"name": "support-bot", "version": "7"}, side: text}
            records.append(FakeRecord(topic, 0, len(records), request.encode(), orjson.dumps(body), 1, headers))
    checkpoint = RecordingCheckpoint()
    asyncio.run(handler.process(records, checkpoint))
    for callback in checkpoint.callbacks:  # the checkpoint committed
        callback()
    return checkpoint


def stored(telemetry: Telemetry, screened: RecordingCheckpoint) -> None:
    """The screened verdict records through the real ClickHouse sink handler (its rows are not
    written here: the spans are what it makes of the records)."""
    ctx = stage_context(RaiwatchSettings(), telemetry=telemetry)
    handler = verdicts_sink_loop(ctx).handler
    verdicts = [FakeRecord(topic, 0, offset, key, value, RECORD_MS, headers)
                for offset, ((topic, key, value), (_, _, headers)) in enumerate(zip(screened.sent, screened.headers))
                if topic == ctx.topics.verdicts]
    checkpoint = RecordingCheckpoint()
    asyncio.run(handler.process(verdicts, checkpoint))
    for callback in checkpoint.callbacks:
        callback()


def test_one_trace_per_request_through_the_sdk_in_memory_exporter() -> None:
    exporter = InMemorySpanExporter()
    telemetry = Telemetry(SdkSpanSink(exporter))
    screened = screen_batch(telemetry)
    assert exporter.get_finished_spans() == ()  # the stages only name the spans
    stored(telemetry, screened)
    spans = {span.attributes["raiwatch.request_id"]: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"traced-1", "plain-1"}
    traced = spans["traced-1"]
    assert traced.name == "raiwatch.request" and traced.context.trace_id == PRODUCER_TRACE
    assert traced.parent.span_id == PRODUCER_SPAN and traced.parent.is_remote
    assert [e.name for e in traced.events] == ["gen_ai.evaluation.result"] * CHECKS + ["raiwatch.stored"]
    times = [traced.start_time, *(e.timestamp for e in traced.events), traced.end_time]
    assert times == sorted(times) and traced.events[0].timestamp == RECORD_MS * 1_000_000
    assert traced.attributes["raiwatch.join_wait_ms"] >= 0
    assert traced.attributes["gen_ai.request.model"] == "support-bot" and traced.attributes["raiwatch.violation"]
    evaluations = {e.attributes["gen_ai.evaluation.name"]: e.attributes for e in traced.events[:CHECKS]}
    assert {"pii.regex@3", "harm.keywords@1", "refusal.keywords@1"} <= set(evaluations)
    assert evaluations["harm.keywords@1"]["gen_ai.evaluation.score.value"] == 1.0
    assert evaluations["harm.keywords@1"]["gen_ai.evaluation.score.label"] == "flagged"
    plain = spans["plain-1"]
    assert plain.parent is None and plain.context.trace_id not in (0, PRODUCER_TRACE)  # a trace of its own
    # Each verdict record carries its request span on (to the judge and the sink).
    sent = {key: dict(headers) for topic, key, headers in screened.headers
            if topic == RaiwatchSettings().topic("rai.verdicts")}
    for request, span in spans.items():
        assert parse_traceparent(sent[request.encode()]["traceparent"]) == (span.context.trace_id,
                                                                             span.context.span_id)


def test_tracing_off_sends_no_trace_headers() -> None:
    screened = screen_batch(Telemetry())
    assert all(not headers for _, _, headers in screened.headers)


def test_metrics_through_the_sdk_in_memory_reader() -> None:
    reader = InMemoryMetricReader()
    screen_batch(Telemetry(meter_provider=MeterProvider(metric_readers=[reader])))
    data = reader.get_metrics_data()
    points = {metric.name: list(metric.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
              for metric in sm.metrics}
    assert sum(p.value for p in points["raiwatch.verdicts"]) == 2
    violations = {p.attributes["pillar"]: p.value for p in points["raiwatch.violations"]}
    assert violations == {"safety": 2}


def test_the_otlp_encoding_matches_the_official_protobuf() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    record = SpanRecord("raiwatch.screen", PRODUCER_TRACE, 7, 9, 100, 200,
                        {"a": "x", "b": True, "c": 3, "d": 0.5}, [("gen_ai.evaluation.result", 150, {"e": 1.5})])
    request = ExportTraceServiceRequest.FromString(encode_spans([record], {"service.name": "raiwatch"}))
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert span.trace_id == PRODUCER_TRACE.to_bytes(16, "big") and span.span_id == (7).to_bytes(8, "big")
    assert span.parent_span_id == (9).to_bytes(8, "big") and span.name == "raiwatch.screen"
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (100, 200)
    values = {kv.key: kv.value for kv in span.attributes}
    assert (values["a"].string_value, values["b"].bool_value, values["c"].int_value, values["d"].double_value) == (
        "x", True, 3, 0.5)
    assert span.events[0].name == "gen_ai.evaluation.result" and span.events[0].attributes[0].value.double_value == 1.5


def test_verdict_spans_encode_as_the_sdk_sees_them() -> None:
    """The sink's span records (evaluation events encoded once per recurring set, the stored
    event added after) read back from OTLP exactly as the SDK path records them."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    exporter, sink = InMemorySpanExporter(), CollectingSink()
    for telemetry in (Telemetry(SdkSpanSink(exporter)), Telemetry(sink)):
        stored(telemetry, screen_batch(telemetry))
    assert all(record.encoded_events == CHECKS for record in sink.records)  # the cached path was taken
    request = ExportTraceServiceRequest.FromString(encode_spans(sink.records, {"service.name": "raiwatch"}))
    decoded = {_read(s.attributes)["raiwatch.request_id"]: s for s in request.resource_spans[0].scope_spans[0].spans}
    sdk = {s.attributes["raiwatch.request_id"]: s for s in exporter.get_finished_spans()}
    assert set(decoded) == set(sdk) == {"traced-1", "plain-1"}
    for request_id, span in decoded.items():
        want = sdk[request_id]
        assert _read(span.attributes) == dict(want.attributes)
        assert [(e.name, e.time_unix_nano, _read(e.attributes)) for e in span.events[:-1]] == [
            (e.name, e.timestamp, dict(e.attributes)) for e in want.events[:-1]]  # the evaluations
        assert span.events[-1].name == want.events[-1].name == "raiwatch.stored"  # stored at its own time
        assert span.start_time_unix_nano <= span.events[0].time_unix_nano < span.end_time_unix_nano


class CollectingSink(SpanSink):
    def __init__(self) -> None:
        self.records: list[SpanRecord] = []

    def submit(self, spans: list[SpanRecord]) -> None:
        self.records += spans


def test_off_unless_configured() -> None:
    assert not Telemetry.from_environment("stages", {}).tracing
    assert not Telemetry.from_environment("stages", {"OTEL_SDK_DISABLED": "true",
                                                     "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}).tracing
    on = Telemetry.from_environment("stages", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9/",
                                               "OTEL_METRIC_EXPORT_INTERVAL": "600000"})
    try:
        assert on.tracing and on.metering and on.span_sink.endpoint == "http://127.0.0.1:9/v1/traces"
    finally:
        on.span_sink._stop.set()
        on.meter_provider.shutdown(timeout_millis=100)


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)


values = st.one_of(st.text(max_size=30), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
                   st.floats(allow_nan=False))
attributes = st.dictionaries(st.text(min_size=1, max_size=20), values, max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.integers(0, 2**64 - 1),
                          st.text(min_size=1, max_size=20), st.integers(0, 2**63), attributes,
                          st.lists(st.tuples(st.text(max_size=10), st.integers(0, 2**63), attributes), max_size=4)),
                max_size=4))
def test_any_span_reads_back_with_the_official_classes(raw: list) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    records = [SpanRecord(name, trace_id, span_id, parent_id, start, start, dict(attrs), list(events))
               for trace_id, span_id, parent_id, name, start, attrs, events in raw]
    request = ExportTraceServiceRequest.FromString(encode_spans(records, {"service.name": "raiwatch"}))
    (resource_spans,) = request.resource_spans
    assert resource_spans.resource.attributes[0].value.string_value == "raiwatch"
    spans = list(resource_spans.scope_spans[0].spans)
    assert len(spans) == len(records)
    for span, record in zip(spans, records, strict=True):
        assert int.from_bytes(span.trace_id, "big") == record.trace_id and span.name == record.name
        assert int.from_bytes(span.parent_span_id or b"\0", "big") == record.parent_id
        assert _read(span.attributes) == record.attributes
        assert [(e.name, e.time_unix_nano, _read(e.attributes)) for e in span.events] == record.events


def _read(key_values) -> dict:
    out = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out
