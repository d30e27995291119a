"""Fixtures of the integration tests that run a worker: `settings` (a fresh namespace on the
shared stack; a module overrides it to change a setting) and `worker`, a `raiwatch worker`
process with those settings, stopped after the test."""

from __future__ import annotations

import pytest

from .pipeline_helpers import WorkerProcess


@pytest.fixture
def settings(fresh_settings):
    return fresh_settings


@pytest.fixture
def worker(settings, tmp_path):
    process = WorkerProcess(settings, tmp_path)
    process.start()
    yield process
    process.stop()
