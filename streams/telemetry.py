"""Traces and metrics with OpenTelemetry, off unless configured.

**Traces.** One trace per request across the stages: the join continues the trace of the
request's `traceparent` header (W3C trace context, on the prompt or the output record; a new
trace when there is none), its screen span carries the GenAI attributes (`gen_ai.*`) and one
`gen_ai.evaluation.result` event per check, and the verdict record carries the screen span's
`traceparent` on to the judge and to the ClickHouse sink, whose spans are its children.

Spans are recorded as small `SpanRecord`s in the stages' hot path (ids, times, attributes) and
handed over only once their checkpoint has committed (an aborted batch is processed again and
must not appear twice). Turning records into OTLP happens off the hot path: `OtlpHttpSpanSink`
builds the protobuf messages directly (upb) in a background thread and POSTs them to the
OTLP/HTTP endpoint every second, because the SDK's span objects and encoder cost several times
more per span than the stages themselves spend per request at full rate. `SdkSpanSink` hands the
same records to any SDK `SpanExporter` instead (the in-memory one in tests, or a console one).

**Metrics** go through the SDK (`raiwatch.*` counters and histograms, updated once per batch):
messages, verdicts, violations, over-refusals, dead letters, stage duration, consumer lag.

**Configuration** is OpenTelemetry's own: `OTEL_EXPORTER_OTLP_ENDPOINT` (or the
`..._TRACES_ENDPOINT` / `..._METRICS_ENDPOINT` variants) switches the export on, over
OTLP/HTTP with protobuf; `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_METRIC_EXPORT_INTERVAL` and `OTEL_SDK_DISABLED` are honoured.
Nothing is set: no telemetry, and no cost beyond a flag test per batch.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import struct
import threading
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
EVALUATION_EVENT = "gen_ai.evaluation.result"
MAX_QUEUED_SPANS = 200_000  # beyond this the exporter is not keeping up: drop, never block the stream
AttributeValue = str | bool | int | float


@dataclass(slots=True)
class SpanRecord:
    """One finished span, as the stages record it."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int  # 0: a root span
    start_ns: int
    end_ns: int
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[tuple[str, int, dict[str, AttributeValue]]] = field(default_factory=list)
    remote_parent: bool = False  # the parent span is another process's
    # The OTLP encoding of `events[:encoded_events]`, when whoever built the record had it (the
    # evaluation events of a verdict recur from span to span and are encoded once).
    events_encoded: bytes = b""
    encoded_events: int = 0


def parse_traceparent(value: bytes | str | None) -> tuple[int, int] | None:
    """(trace id, parent span id) of a W3C `traceparent` value, or None when absent or malformed."""
    if not value:
        return None
    if len(value) == 55 and isinstance(value, bytes) and value[2:3] == value[35:36] == value[52:53] == b"-":
        try:  # the common case, as `format_traceparent` writes it
            trace_id, span_id = int(value[3:35], 16), int(value[36:52], 16)
        except ValueError:
            return None
        return (trace_id, span_id) if trace_id and span_id else None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    parts = text.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id = int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    return (trace_id, span_id) if trace_id and span_id else None


def format_traceparent(trace_id: int, span_id: int) -> bytes:
    """The `traceparent` header value that makes (trace_id, span_id) the parent downstream."""
    return f"00-{trace_id:032x}-{span_id:016x}-01".encode()


def header(headers: Iterable[tuple[str, bytes]] | None, name: str = TRACEPARENT) -> bytes | None:
    """The first header called `name` of a Kafka record."""
    for key, value in headers or ():
        if key == name:
            return value
    return None


def new_trace_id() -> int:
    return random.getrandbits(128) or 1


def new_ids() -> tuple[int, int]:
    """A new trace id and span id, from one random draw."""
    bits = random.getrandbits(192)
    return (bits >> 64) or 1, (bits & 0xFFFFFFFFFFFFFFFF) or 1


def new_span_id() -> int:
    return random.getrandbits(64) or 1


class SpanSink(ABC):
    """Where finished span records go."""

    @abstractmethod
    def submit(self, spans: list[SpanRecord]) -> None:
        """Hand over a batch of finished spans (must not block the event loop for long)."""

    def close(self) -> None:
        """Send what is left."""


class SdkSpanSink(SpanSink):
    """Span records as SDK `ReadableSpan`s, exported at once through an SDK `SpanExporter`."""

    def __init__(self, exporter: Any, resource: Any = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.exporter = exporter
        self.resource = resource or Resource.create({"service.name": "raiwatch"})
        self.scope = InstrumentationScope("raiwatch")

    def submit(self, spans: list[SpanRecord]) -> None:
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

        sampled = TraceFlags(TraceFlags.SAMPLED)
        readable = [ReadableSpan(
            record.name, context=SpanContext(record.trace_id, record.span_id, False, sampled),
            parent=(SpanContext(record.trace_id, record.parent_id, record.remote_parent, sampled)
                    if record.parent_id else None),
            resource=self.resource, attributes=record.attributes,
            events=[Event(name, attributes, timestamp=at) for name, at, attributes in record.events],
            kind=SpanKind.INTERNAL, start_time=record.start_ns, end_time=record.end_ns,
            instrumentation_scope=self.scope) for record in spans]
        self.exporter.export(readable)

    def close(self) -> None:
        self.exporter.shutdown()


class OtlpHttpSpanSink(SpanSink):
    """Span records to an OTLP/HTTP endpoint (protobuf). Records are encoded as they arrive (so
    what waits for the next POST is bytes, which the garbage collector never scans: queued
    records kept the collector busy) and sent by a background thread once per `interval_s`; a
    failed POST is logged and its spans dropped (telemetry never holds up the stream)."""

    def __init__(self, endpoint: str, headers: Mapping[str, str], resource_attributes: Mapping[str, AttributeValue],
                 interval_s: float = 1.0, timeout_s: float = 10.0) -> None:
        self.endpoint, self.headers = endpoint, dict(headers)
        self.resource_attributes = dict(resource_attributes)
        self.interval_s, self.timeout_s = interval_s, timeout_s
        self._queue: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self._queued = 0
        self.dropped = self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otlp-spans", daemon=True)
        self._thread.start()

    def submit(self, spans: list[SpanRecord]) -> None:
        if self._queued + len(spans) > MAX_QUEUED_SPANS:
            self.dropped += len(spans)
            return
        self._queued += len(spans)
        self._queue.put((len(spans), b"".join(_field(2, _span_bytes(span)) for span in spans)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout_s + 5)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.interval_s)
            count, chunks = 0, []
            while True:
                try:
                    spans, chunk = self._queue.get_nowait()
                except queue.Empty:
                    break
                count += spans
                chunks.append(chunk)
            self._queued -= count
            if chunks:
                self._post(count, _request(b"".join(chunks), self.resource_attributes))
            if stopping:
                return

    def _post(self, count: int, body: bytes) -> None:
        request = urllib.request.Request(self.endpoint, data=body, method="POST",
                                         headers={"Content-Type": "application/x-protobuf", **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
            self.sent += count
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the stream
            self.dropped += count
            log.warning("exporting %d spans to %s failed (%s); dropped", count, self.endpoint, exc)


def encode_spans(spans: list[SpanRecord], resource_attributes: Mapping[str, AttributeValue]) -> bytes:
    """An OTLP `ExportTraceServiceRequest` holding `spans`, serialised.

    Written out field by field rather than through the protobuf classes: at full rate the span
    export is the costliest part of tracing, and the same key-value pairs and event attributes
    recur in almost every span (check names, labels, scores, models, tenants), so their encoded
    bytes are cached. `tests/unit/test_telemetry.py` reads the result back with the official
    classes."""
    return _request(b"".join(_field(2, _span_bytes(span)) for span in spans), resource_attributes)


def _request(span_fields: bytes, resource_attributes: Mapping[str, AttributeValue]) -> bytes:
    """The request around encoded `ScopeSpans.spans` fields."""
    scope = _field(1, _field(1, b"raiwatch"))  # InstrumentationScope.name
    resource = _field(1, b"".join(_field(1, _key_value(k, v)) for k, v in resource_attributes.items()))
    return _field(1, resource + _field(2, scope + span_fields))  # ResourceSpans{resource, scope_spans}


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]
_TAGS: dict[int, bytes] = {}


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    tag = _TAGS.get(number)
    if tag is None:
        tag = _TAGS[number] = _varint(number << 3 | 2)
    return tag + _varint(len(payload)) + payload


_KV_CACHE: dict[tuple[str, AttributeValue, type], bytes] = {}
_KV_CACHE_LIMIT = 50_000
_PACK_Q, _PACK_D = struct.Struct("<Q").pack, struct.Struct("<d").pack


def _key_value(key: str, value: AttributeValue) -> bytes:
    """A `KeyValue` message (key, AnyValue), cached for recurring pairs."""
    cache_key = (key, value, type(value))
    cached = _KV_CACHE.get(cache_key)
    if cached is not None:
        return cached
    if isinstance(value, bool):
        any_value = b"\x10" + (b"\x01" if value else b"\x00")  # bool_value = 2
    elif isinstance(value, int):
        any_value = b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # int_value = 3
    elif isinstance(value, float):
        any_value = b"\x21" + _PACK_D(value)  # double_value = 4
    else:
        any_value = _field(1, str(value).encode())  # string_value = 1
    encoded = _field(1, key.encode()) + _field(2, any_value)
    if len(_KV_CACHE) < _KV_CACHE_LIMIT:
        _KV_CACHE[cache_key] = encoded
    return encoded


_BLOB_CACHE: dict[tuple, bytes] = {}


def _attribute_fields(number: int, attributes: Mapping[str, AttributeValue]) -> bytes:
    """Attributes as repeated `KeyValue` fields `number`; a recurring set (an event's check
    name, score and label) is encoded once."""
    try:
        cache_key = (number, *attributes.items())
        cached = _BLOB_CACHE.get(cache_key)
    except TypeError:  # an unhashable value
        cache_key, cached = None, None
    if cached is not None:
        return cached
    tag = _varint(number << 3 | 2)
    blob = b"".join(tag + _varint(len(kv)) + kv for kv in (_key_value(k, v) for k, v in attributes.items()))
    if cache_key is not None and len(_BLOB_CACHE) < _KV_CACHE_LIMIT:
        _BLOB_CACHE[cache_key] = blob
    return blob


def _span_bytes(span: SpanRecord) -> bytes:
    out = bytearray(b"\x0a\x10")
    out += span.trace_id.to_bytes(16, "big")
    out += b"\x12\x08"
    out += span.span_id.to_bytes(8, "big")
    if span.parent_id:
        out += b"\x22\x08"
        out += span.parent_id.to_bytes(8, "big")
    out += _name_field(span.name, 5)
    out += b"\x30\x01\x39"
    out += _PACK_Q(span.start_ns)
    out += b"\x41"
    out += _PACK_Q(span.end_ns)
    for key, value in span.attributes.items():
        kv = _key_value(key, value)
        out += b"\x4a"
        out += _varint(len(kv))
        out += kv
    if span.encoded_events:
        out += span.events_encoded
    for name, at, attributes in span.events[span.encoded_events:]:
        out += _event_field(name, at, attributes)
    return bytes(out)


def events_at_one_time(name: str, attribute_sets: Iterable[Mapping[str, AttributeValue]]) -> list[bytes]:
    """Events `name` with these attributes and one shared time, as `Span.events` fields cut
    where the time goes: `time_bytes(at).join(segments)` is their encoding at time `at`. The
    evaluation events of a verdict recur from span to span with a different time each, so the
    sink encodes them once and joins per span (a cache keyed by the time missed per record)."""
    segments, tail = [], b""
    for attributes in attribute_sets:
        body = _name_field(name) + _attribute_fields(3, attributes)
        segments.append(tail + b"\x5a" + _varint(9 + len(body)) + b"\x09")  # Event.time_unix_nano: fixed64
        tail = body
    segments.append(tail)
    return segments


def time_bytes(at_ns: int) -> bytes:
    """A fixed64 time as it is written in a field (see `events_at_one_time`)."""
    return _PACK_Q(at_ns)


_EVENTS: dict[tuple, bytes] = {}


def _event_field(name: str, at: int, attributes: Mapping[str, AttributeValue]) -> bytes:
    """An event as `Span.events` field; the spans of one batch share their events' times and
    mostly their results, so a recurring event is encoded once (the cache is emptied when full)."""
    try:
        key = (name, at, *attributes.items())
        cached = _EVENTS.get(key)
    except TypeError:
        key, cached = None, None
    if cached is not None:
        return cached
    event = b"".join((b"\x09", _PACK_Q(at), _name_field(name), _attribute_fields(3, attributes)))
    encoded = b"\x5a" + _varint(len(event)) + event
    if key is not None:
        if len(_EVENTS) >= _KV_CACHE_LIMIT:
            _EVENTS.clear()
        _EVENTS[key] = encoded
    return encoded


_NAMES: dict[tuple[int, str], bytes] = {}


def _name_field(name: str, number: int = 2) -> bytes:
    """A name as string field `number` (2: an event's name, 5: a span's), cached: there are a
    handful of names."""
    encoded = _NAMES.get((number, name))
    if encoded is None:
        encoded = _field(number, name.encode())
        if len(_NAMES) < 1000:
            _NAMES[(number, name)] = encoded
    return encoded


class Telemetry:
    """The stages' telemetry: span records to a sink, metrics to a meter; both optional."""

    def __init__(self, span_sink: SpanSink | None = None, meter_provider: Any = None) -> None:
        self.span_sink = span_sink
        self.meter_provider = meter_provider
        self.tracing = span_sink is not None
        self.metering = meter_provider is not None
        if self.metering:
            meter = meter_provider.get_meter("raiwatch")
            self.messages = meter.create_counter("raiwatch.messages", "{message}", "Input records processed")
            self.verdicts = meter.create_counter("raiwatch.verdicts", "{verdict}", "Verdicts published")
            self.violations = meter.create_counter("raiwatch.violations", "{verdict}", "Verdicts that are violations")
            self.over_refusals = meter.create_counter("raiwatch.over_refusals", "{verdict}",
                                                      "Verdicts that are over-refusals")
            self.dead_letters = meter.create_counter("raiwatch.dead_letters", "{message}", "Records dead-lettered")
            self.stage_duration = meter.create_histogram("raiwatch.stage.duration", "s",
                                                         "Time to process and commit one batch")
            self.request_latency = meter.create_histogram("raiwatch.request.latency", "s",
                                                          "Input published to verdict published")
            self._lag_sources: list[Callable[[], Iterable[tuple[int, dict[str, str]]]]] = []
            meter.create_observable_gauge("raiwatch.consumer.lag", [self._observe_lag], "{message}",
                                          "Records waiting on an assigned input partition")

    def spans(self, records: list[SpanRecord]) -> None:
        if self.span_sink is not None and records:
            self.span_sink.submit(records)

    def count(self, instrument: str, amount: int, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        if self.metering and amount:
            getattr(self, instrument).add(amount, attributes)

    def record(self, instrument: str, value: float, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        if self.metering:
            getattr(self, instrument).record(value, attributes)

    def watch_lag(self, source: Callable[[], Iterable[tuple[int, dict[str, str]]]]) -> None:
        """Report `source()`'s (lag, attributes) pairs as the consumer-lag gauge."""
        if self.metering:
            self._lag_sources.append(source)

    def unwatch_lag(self, source: Callable[[], Iterable[tuple[int, dict[str, str]]]]) -> None:
        if self.metering and source in self._lag_sources:
            self._lag_sources.remove(source)

    def _observe_lag(self, _options: Any) -> Iterable[Any]:
        from opentelemetry.metrics import Observation

        for source in list(self._lag_sources):
            try:
                yield from (Observation(lag, attributes) for lag, attributes in source())
            except Exception:  # noqa: BLE001 - a loop being replaced: skip this round
                continue

    def close(self) -> None:
        if self.span_sink is not None:
            self.span_sink.close()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()

    @classmethod
    def from_environment(cls, part: str, environ: Mapping[str, str] | None = None) -> Telemetry:
        """As the standard OTEL_* variables configure it (see the module docstring)."""
        env = os.environ if environ is None else environ
        if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
            return cls()
        base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").rstrip("/")
        traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (f"{base}/v1/traces" if base else "")
        metrics = env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or (f"{base}/v1/metrics" if base else "")
        if not traces and not metrics:
            return cls()
        from opentelemetry.sdk.resources import Resource

        resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "raiwatch"),
                                    "raiwatch.worker.part": part})
        headers = _parse_headers(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
        sink = OtlpHttpSpanSink(traces, headers, dict(resource.attributes)) if traces else None
        provider = None
        if metrics:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            interval = int(env.get("OTEL_METRIC_EXPORT_INTERVAL", "60000"))
            reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=metrics), export_interval_millis=interval)
            provider = MeterProvider(resource=resource, metric_readers=[reader])
        return cls(sink, provider)


def _parse_headers(text: str) -> dict[str, str]:
    from urllib.parse import unquote

    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {unquote(key.strip()): unquote(value.strip()) for key, value in pairs}

