"""Run the pipeline as a Faust worker (`raiwatch worker`): the stage loops run as its tasks.

A worker runs two parts: the Kafka-to-Kafka stages (join + screen, judge) and the ClickHouse
sinks. Python runs one event loop on one core, and on a small machine the worker's loop was the
bottleneck (the broker and ClickHouse had CPU to spare), so by default (`RAIWATCH_SINK_PROCESS`)
the worker runs the stages itself and the sinks in a child process: the inserts get a core of
their own and stop delaying the stages' transactions. The child dies with the worker, even on
SIGKILL (Linux parent-death signal), and the worker exits (non-zero) if the child does, so a
supervisor always restarts both together; both parts are safe to restart at any time (the stages
are transactional, the sinks commit only after their inserts). `raiwatch worker --only stages`
and `--only sinks` run one part each, for deployments that scale them separately.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import subprocess
import sys

from ..ops.settings import RaiwatchSettings
from ..ops.topics import create_topics
from .app import PARTS, Pipeline, assemble, internal_topics

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
CHILD_STOP_TIMEOUT_S = 30.0


def run_worker(settings: RaiwatchSettings, loglevel: str = "WARNING", only: str | None = None) -> None:
    """Create any missing topics (registry and internal), then run until SIGTERM/SIGINT."""
    import faust

    create_topics(settings, extra=internal_topics(settings))
    child: subprocess.Popen | None = None
    if only is None and settings.sink_process:
        child = start_part_process(settings, "sinks", loglevel)
        parts: tuple[str, ...] = ("stages",)
    else:
        parts = (only,) if only else PARTS
    try:
        pipeline = assemble(settings, parts)
        if child is not None:
            watch_child(pipeline, child)
        logging.getLogger("aiokafka").setLevel(logging.ERROR)
        worker = faust.Worker(pipeline.app, loglevel=loglevel, quiet=True)
        freeze_startup_objects()
        worker.execute_from_commandline()
    finally:
        if child is not None:
            stop_child(child)


def freeze_startup_objects() -> None:
    """Hide what start-up built (modules, models, the app: about a million objects that live as
    long as the process) from the garbage collector, so its full collections scan only what the
    stream allocates. Measured: each full collection stalled a worker's event loop for 80-100 ms,
    a few times a minute, and the pipeline's p99 latency is made of such stalls."""
    gc.collect()
    gc.freeze()


def start_part_process(settings: RaiwatchSettings, part: str, loglevel: str) -> subprocess.Popen:
    """`raiwatch worker --only <part>` with this worker's settings, killed when this process dies.

    Its own session, so a terminal's Ctrl-C reaches only the parent, which stops it in order."""
    from ..ops.pipeline_run import settings_env

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def die_with_parent() -> None:  # runs in the child between fork and exec
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    env = {**os.environ, **settings_env(settings), "RAIWATCH_WEB_ENABLED": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "raiwatch.ops.cli", "worker", "--only", part, "--loglevel", loglevel],
        env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent, start_new_session=True,
    )


def watch_child(pipeline: Pipeline, child: subprocess.Popen) -> None:
    """An app task that stops this worker (exit 3) if the child part exits on its own."""

    async def watch_sink_process() -> None:
        while child.poll() is None:
            await asyncio.sleep(0.5)
        log.critical("the worker's sink process exited with code %s; stopping the worker", child.returncode)
        logging.shutdown()
        os._exit(3)

    pipeline.app.task(watch_sink_process)


def stop_child(child: subprocess.Popen) -> None:
    """SIGTERM, wait, then SIGKILL."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(CHILD_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
