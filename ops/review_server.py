"""`raiwatch review`: the human review queue as a local web page.

The page lists the pending reviews (ClickHouse `reviews`), shows one item with its redacted
prompt and output and the verdict's evidence spans highlighted, and takes a label with a button
or a key (v violation, s safe, o over-refusal, u unsure) plus an optional better answer. A label
is published to rai.feedback (event id from the review and the reviewer: labelling twice is one
label) and replaces the pending row, so the item leaves the queue. Plain `http.server` and a
page without external resources: nothing to install, nothing fetched from the internet.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..schemas.reviews import FeedbackV1
from . import kafka_clients
from .review_page import PAGE
from .settings import RaiwatchSettings

log = logging.getLogger(__name__)
LABELS = ("violation", "safe", "over_refusal", "unsure")


class ReviewService:
    """The queue, the items and the labels, over ClickHouse and Kafka."""

    def __init__(self, settings: RaiwatchSettings, reviewer: str) -> None:
        self.settings, self.reviewer = settings, reviewer
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="review-kafka", daemon=True)
        self._thread.start()
        self._producer = self._run(self._start_producer())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)

    async def _start_producer(self) -> Any:
        producer = kafka_clients.producer(self.settings, enable_idempotence=True, acks="all")
        await producer.start()
        return producer

    def _client(self) -> Any:
        from ..schemas.clickhouse import clickhouse_client

        return clickhouse_client(self.settings)

    def queue(self) -> list[dict[str, Any]]:
        result = self._client().query(
            "SELECT review_id, tenant, pillar, category, reason, toString(event_time) FROM reviews FINAL "
            "WHERE status = 'pending' ORDER BY event_time, review_id LIMIT 500")
        return [dict(zip(("review_id", "tenant", "pillar", "category", "reason", "event_time"), row, strict=True))
                for row in result.result_rows]

    def item(self, review_id: str) -> dict[str, Any] | None:
        rows = self._client().query(
            "SELECT review_id, verdict_id, request_id, tenant, pillar, category, reason, status, label, "
            "prompt_redacted, output_redacted FROM reviews FINAL WHERE review_id = {id:String}",
            parameters={"id": review_id}).result_rows
        if not rows:
            return None
        names = ("review_id", "verdict_id", "request_id", "tenant", "pillar", "category", "reason", "status", "label",
                 "prompt", "output")
        item = dict(zip(names, rows[0], strict=True))
        evidence = self._client().query(
            "SELECT evidence FROM verdicts FINAL WHERE verdict_id = {id:String} LIMIT 1",
            parameters={"id": item["verdict_id"]}).result_rows
        item["evidence"] = json.loads(evidence[0][0]) if evidence and evidence[0][0] else []
        return item

    def label(self, review_id: str, label: str, preferred_output: str = "", comment: str = "") -> FeedbackV1:
        if label not in LABELS:
            raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
        item = self.item(review_id)
        if item is None:
            raise KeyError(review_id)
        event_id = hashlib.sha256(f"{review_id}\0{self.reviewer}".encode()).hexdigest()[:32]
        feedback = FeedbackV1(event_id=event_id, request_id=item["request_id"], verdict_id=item["verdict_id"],
                              reviewer=self.reviewer, label=label, preferred_output=preferred_output, comment=comment,
                              categories=[item["category"]] if item["category"] else [])
        topic = self.settings.topic("rai.feedback")
        self._run(self._producer.send_and_wait(topic, feedback.model_dump_json().encode(), key=review_id.encode()))
        from ..streams.clickhouse_sink import REVIEW_COLUMNS

        labelled = [item["review_id"], item["verdict_id"], item["request_id"], datetime.now(UTC), item["tenant"],
                    item["pillar"], item["category"], item["reason"], "labelled", label, self.reviewer, item["prompt"],
                    item["output"]]
        self._client().insert("reviews", [[*labelled, preferred_output]], column_names=[*REVIEW_COLUMNS, "preferred_output"])
        return feedback

    def close(self) -> None:
        self._run(self._producer.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)


def make_server(service: ReviewService, host: str, port: int) -> ThreadingHTTPServer:
    """The page and its JSON API on `host:port` (port 0: a free one; `server.server_port`)."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value, default=str).encode())

        def do_GET(self) -> None:  # noqa: N802
            if self.path in ("/", "/index.html"):
                self._send(200, PAGE.encode(), "text/html; charset=utf-8")
            elif self.path == "/api/queue":
                self._json(200, {"reviewer": service.reviewer, "items": service.queue()})
            elif self.path.startswith("/api/item/"):
                item = service.item(self.path.rsplit("/", 1)[1])
                self._json(200 if item else 404, item or {"error": "no such review"})
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/api/label":
                self._json(404, {"error": "not found"})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                feedback = service.label(str(body.get("review_id", "")), str(body.get("label", "")),
                                         str(body.get("preferred_output", "")), str(body.get("comment", "")))
            except KeyError:
                self._json(404, {"error": "no such review"})
            except (ValueError, json.JSONDecodeError) as exc:
                self._json(400, {"error": str(exc)})
            else:
                self._json(200, {"ok": True, "feedback_id": feedback.event_id})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            log.info("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)
