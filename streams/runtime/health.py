"""The worker's health endpoint (`stages.health_port`), for Kubernetes probes and people:

- `GET /live`: 200 while every loop iterates (its last iteration is recent), else 503;
- `GET /ready`: 200 once every loop has joined its group, restored its state and is caught up
  (at most `stages.ready_max_lag` records behind on each assigned partition), else 503;
- `GET /status`: every loop's status as JSON.

A plain asyncio HTTP/1.0 responder: three read-only routes do not need a web framework.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

log = logging.getLogger(__name__)

StatusSource = Callable[[], Awaitable[list[dict[str, Any]]]]


def is_live(statuses: list[dict[str, Any]], max_iteration_age_s: float) -> bool:
    """Every loop is running and iterated within `max_iteration_age_s`."""
    return all(s["state"] in ("starting", "running") and s["last_iteration_age_s"] <= max_iteration_age_s
               for s in statuses)


def is_ready(statuses: list[dict[str, Any]], max_lag: int) -> bool:
    """Every loop is running, has joined its group, and is caught up."""
    return bool(statuses) and all(s["state"] == "running" and s["joined"] and s["lag"] <= max_lag for s in statuses)


class HealthServer:
    """Serves the three routes from `statuses()` until stopped (a supervised part)."""

    def __init__(self, host: str, port: int, statuses: StatusSource, max_iteration_age_s: float, max_lag: int) -> None:
        self.host, self.port, self.statuses = host, port, statuses
        self.max_iteration_age_s, self.max_lag = max_iteration_age_s, max_lag
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        server = await asyncio.start_server(self._handle, self.host, self.port)
        log.info("health endpoint on http://%s:%d/{live,ready,status}", self.host, self.port)
        try:
            await self._stopped.wait()
        finally:
            server.close()
            await server.wait_closed()

    def stop(self) -> None:
        self._stopped.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else "/"
            statuses = await self.statuses()
            if path == "/live":
                ok = is_live(statuses, self.max_iteration_age_s)
            elif path == "/ready":
                ok = is_ready(statuses, self.max_lag)
            elif path == "/status":
                ok = True
            else:
                await _respond(writer, 404, {"error": f"no route {path}; try /live, /ready or /status"})
                return
            await _respond(writer, 200 if ok else 503, {"ok": ok, "loops": statuses})
        except Exception as exc:  # noqa: BLE001 - a bad request must not take the endpoint down
            log.debug("health request failed: %s", exc)
        finally:
            writer.close()


async def _respond(writer: asyncio.StreamWriter, code: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, default=str).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
    writer.write(f"HTTP/1.0 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                 "Connection: close\r\n\r\n".encode() + payload)
    await writer.drain()


def loop_status_dict(status: Any) -> dict[str, Any]:
    """A `LoopStatus` as JSON-able data."""
    return asdict(status)
