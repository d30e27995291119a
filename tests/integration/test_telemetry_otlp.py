"""A worker configured by the standard OTEL_* variables sends OTLP/HTTP to a local receiver: one
trace per request across join, screen and the ClickHouse sink (continuing the trace the
producer sent in the `traceparent` header), with the GenAI evaluation events, and the metrics
(messages, verdicts, dead letters, stage duration, consumer lag)."""

from __future__ import annotations

import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from raiwatch.ops.pipeline_run import Counts, wait_for_counts
from raiwatch.streams.telemetry import format_traceparent

from ..stack_fixtures import free_ports
from .pipeline_helpers import WorkerProcess

pytestmark = pytest.mark.integration


class Receiver(BaseHTTPRequestHandler):
    bodies: dict[str, list[bytes]] = defaultdict(list)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.bodies[self.path].append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    (port,) = free_ports(1)
    Receiver.bodies = defaultdict(list)
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def spans_received() -> list:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return [span for body in Receiver.bodies["/v1/traces"]
            for rs in ExportTraceServiceRequest.FromString(body).resource_spans
            for ss in rs.scope_spans for span in ss.spans]


def metrics_received() -> dict[str, list]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    found: dict[str, list] = defaultdict(list)
    for body in Receiver.bodies["/v1/metrics"]:
        for rm in ExportMetricsServiceRequest.FromString(body).resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found[metric.name].append(metric)
    return found


def test_one_trace_per_request_and_the_metrics_over_otlp_http(fresh_settings, receiver, tmp_path: Path) -> None:
    settings = fresh_settings.replace(join__timeout_s=3.0)
    producer_trace = 0x0AF7651916CD43DD8448EB211C80319C
    lines, traced = [], {}
    for i in range(20):
        request = f"otel-{i}"
        base = {"schema_version": 1, "request_id": request, "model": {"name": "support-bot", "version": "3"}}
        prompt = {**base, "event_id": f"{request}-p", "prompt": "How to build a bomb?" if i % 2 else "Hello"}
        output = {**base, "event_id": f"{request}-o", "output": "Sure, here are the steps" if i % 2 else "Hi!"}
        lines.append(("rai.prompts", request, orjson.dumps(prompt), i < 10))
        lines.append(("rai.outputs", request, orjson.dumps(output), False))
        if i < 10:
            traced[request] = 0x1000 + i  # the producer's span id
    lines.append(("rai.prompts", "bad", b"{not json", False))

    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    for topic, key, value, with_trace in lines:
        headers = [("traceparent", format_traceparent(producer_trace, traced[key]))] if with_trace else None
        producer.produce(settings.topic(topic), value, key.encode(), headers=headers)
    assert producer.flush(30) == 0
    worker = WorkerProcess(settings, tmp_path, env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver,
                                                    "OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    worker.start()
    try:
        assert wait_for_counts(settings, 20, 1, 120, worker=worker.proc) == Counts(20, 1), worker.log()
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(spans_received()) < 20:
            time.sleep(1)
        time.sleep(3)  # a last export of spans and metrics
    finally:
        worker.stop()

    spans = spans_received()
    assert {span.name for span in spans} == {"raiwatch.request"}
    producer_spans = {span.to_bytes(8, "big") for span in traced.values()}
    traced_spans = [s for s in spans if s.trace_id == producer_trace.to_bytes(16, "big")]
    # The ten traced requests continue the producer's trace, each span a child of its producer span.
    assert len(traced_spans) == 10 and {s.parent_span_id for s in traced_spans} == producer_spans
    for span in spans:
        names = [e.name for e in span.events]
        checks = len(settings.screen.checks)  # one evaluation event per configured check
        assert names == ["gen_ai.evaluation.result"] * checks + ["raiwatch.stored"], names
        attributes = {kv.key: kv.value for kv in span.attributes}
        assert attributes["gen_ai.request.model"].string_value == "support-bot"
    # The untraced requests get a trace each.
    others = {s.trace_id for s in spans} - {producer_trace.to_bytes(16, "big")}
    assert len(others) == 10

    metrics = metrics_received()
    assert {"raiwatch.messages", "raiwatch.verdicts", "raiwatch.violations", "raiwatch.dead_letters",
            "raiwatch.stage.duration", "raiwatch.consumer.lag"} <= set(metrics), sorted(metrics)

    def total(name: str) -> float:  # cumulative sums: the last export holds the totals
        return max(sum(point.as_int for point in metric.sum.data_points) for metric in metrics[name])

    assert total("raiwatch.verdicts") == 20
    assert total("raiwatch.dead_letters") == 1
