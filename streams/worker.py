"""`raiwatch worker`: run the pipeline's loops under a supervisor until SIGTERM.

A worker runs three parts: the Kafka-to-Kafka stages on the request path (join + screen, judge,
and the readers of the policies and risk levels in force), the ClickHouse sinks, and the feeds
(regulations and policies into proposals, the policies table and triggers; incidents). Python
runs one event loop on one core, and on a small machine the worker's loop was the bottleneck
(the broker and ClickHouse had CPU to spare), so by default (`stages.process_sinks_apart`) the
worker runs the stages itself and the sinks and the feeds in child processes (`raiwatch worker
--only sinks`, `--only feeds`): the inserts get a core of their own, and the feeds' loops stay
out of the join's event loop (beside it they doubled the median latency). Each child dies with
the worker, even on SIGKILL (Linux parent-death signal); it is a supervised part like the loops,
so a crashed child is restarted (a bounded number of times), and SIGTERM drains it too. Every
part is safe to restart at any time: the stages are transactional, the sinks idempotent.
`--only stages`, `--only sinks` and `--only feeds` run one part each, for deployments that
scale them separately.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import logging
import os
import signal
import socket
import sys
import urllib.request
from typing import Any

from ..ops.errors import RaiwatchError
from ..ops.settings import RaiwatchSettings
from ..ops.topics import create_topics
from .alerting import StallAlerts
from .app import PARTS, loop_factories, stage_context
from .runtime.health import HealthServer, loop_status_dict
from .runtime.loop import StageLoop
from .runtime.supervisor import Supervisor
from .telemetry import Telemetry
from .topics import PipelineTopics, internal_topics

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


def run_worker(settings: RaiwatchSettings, loglevel: str = "WARNING", only: str | None = None) -> int:
    """Create any missing topics (registry and internal), then run until SIGTERM/SIGINT;
    returns the exit code (0 after a drain, 1 when a part crashed too often)."""
    logging.basicConfig(level=loglevel.upper(), format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    if only is not None and only not in PARTS:
        raise RaiwatchError(f"unknown worker part {only!r}; choose from {', '.join(PARTS)}")
    create_topics(settings, extra=internal_topics(settings))
    return asyncio.run(_run(settings, loglevel, only))


async def _run(settings: RaiwatchSettings, loglevel: str, only: str | None) -> int:
    stall_alerts = StallAlerts(settings, PipelineTopics.of(settings).alerts)
    telemetry = Telemetry.from_environment(only or "stages")
    ctx = stage_context(settings, on_stall=stall_alerts, telemetry=telemetry)
    supervisor = Supervisor(settings.stages.max_restarts, settings.stages.restart_window_s,
                            stop_timeout_s=settings.stages.stop_timeout_s)
    sinks_apart = only is None and settings.stages.process_sinks_apart
    children = ("sinks", "feeds")
    if sinks_apart:
        parts: tuple[str, ...] = ("stages",)
        for child in children:
            port = _free_port() if settings.stages.health_port is not None else None
            supervisor.add(f"{child}-process", lambda child=child, port=port: PartProcess(settings, child, loglevel, port))
    else:
        parts = (only,) if only else PARTS
    factories = loop_factories(ctx, parts)
    for name, make in factories.items():
        supervisor.add(name, make)
    if settings.stages.health_port is not None:
        async def statuses() -> list[dict[str, Any]]:
            found = [loop_status_dict(supervisor.current(name).status()) for name in factories
                     if isinstance(supervisor.current(name), StageLoop)]  # not the policy reader
            if sinks_apart:
                for child in children:
                    found += await supervisor.current(f"{child}-process").statuses()
            return found

        supervisor.add("health", lambda: HealthServer(
            settings.stages.health_host, settings.stages.health_port, statuses,
            max_iteration_age_s=settings.stages.transaction_timeout_s * 2 + 60, max_lag=settings.stages.ready_max_lag))
    if "sinks" in parts:
        import clickhouse_connect.driver  # noqa: F401 - loaded now, before the start-up objects are frozen
    freeze_startup_objects()
    try:
        return await supervisor.run()
    finally:
        await stall_alerts.close()
        telemetry.close()


def freeze_startup_objects() -> None:
    """Hide what start-up built (modules, models: about a million objects that live as long as
    the process) from the garbage collector, so its full collections scan only what the stream
    allocates. Measured: each full collection stalled a worker's event loop for 80-100 ms, a few
    times a minute, and the pipeline's p99 latency is made of such stalls."""
    gc.collect()
    gc.freeze()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PartProcess:
    """`raiwatch worker --only <part>` with this worker's settings, as a supervised part that
    dies with this process (parent-death signal) and drains on `stop()` (SIGTERM)."""

    def __init__(self, settings: RaiwatchSettings, part: str, loglevel: str, health_port: int | None) -> None:
        self.settings, self.part, self.loglevel, self.health_port = settings, part, loglevel, health_port
        self.proc: asyncio.subprocess.Process | None = None
        self._stopping = False

    async def run(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getpid()

        def die_with_parent() -> None:  # runs in the child between fork and exec
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

        env = {**os.environ, **self.settings.environment()}
        env.pop("RAIWATCH_STAGES__HEALTH_PORT", None)
        if self.health_port is not None:
            env["RAIWATCH_STAGES__HEALTH_PORT"] = str(self.health_port)
        # Its own session, so a terminal's Ctrl-C reaches only the parent, which stops it in order.
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "raiwatch.ops.cli", "worker", "--only", self.part, "--loglevel", self.loglevel,
            env=env, stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent, start_new_session=True)
        code = await self.proc.wait()
        if not self._stopping or code != 0:
            raise RaiwatchError(f"the {self.part} process exited with code {code}")

    def stop(self) -> None:
        self._stopping = True
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)

    async def statuses(self) -> list[dict[str, Any]]:
        """The child's loop statuses, from its own health endpoint."""
        missing = [{"name": f"{self.part}-process", "state": "starting", "joined": False, "lag": 0,
                    "last_iteration_age_s": 0.0, "assigned": [], "paused": [], "stalls": 0}]
        if self.health_port is None or self.proc is None:
            return missing
        url = f"http://127.0.0.1:{self.health_port}/status"
        try:
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=2).read())
            return json.loads(body)["loops"]
        except Exception:  # noqa: BLE001 - not up yet, or gone: the supervisor deals with it
            return missing
