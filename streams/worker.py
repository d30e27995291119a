"""Run the pipeline as a Faust worker (`raiwatch worker`): the stage loops run as its tasks."""

from __future__ import annotations

import logging

from ..ops.settings import RaiwatchSettings
from ..ops.topics import create_topics
from .app import assemble, internal_topics


def run_worker(settings: RaiwatchSettings, loglevel: str = "WARNING") -> None:
    """Create any missing topics (registry and internal), then run until SIGTERM/SIGINT."""
    import faust

    create_topics(settings, extra=internal_topics(settings))
    pipeline = assemble(settings)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    worker = faust.Worker(pipeline.app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
