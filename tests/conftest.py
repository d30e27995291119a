"""Shared fixtures. Integration tests run against the real stack: the one the environment
points at (RAIWATCH_* variables, as `.ci/run` sets them) when it is healthy, else a private
one started here in a temporary directory and stopped at the end."""

from __future__ import annotations

import pytest

from raiwatch.ops import stack
from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.ops.topics import create_topics
from raiwatch.schemas.clickhouse.migrate import migrate

from .stack_fixtures import isolated_stack_settings, namespaced


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory):
    """Settings of a healthy running stack (servers only; no topics or tables implied)."""
    settings = RaiwatchSettings()
    if all(s.healthy for s in stack.status(settings)):
        yield settings
        return
    settings = isolated_stack_settings(tmp_path_factory.mktemp("stack"))
    stack.up(settings, provision=False)
    try:
        yield settings
    finally:
        stack.down(settings)


@pytest.fixture
def fresh_settings(stack_settings: RaiwatchSettings) -> RaiwatchSettings:
    """A fresh topic prefix and database on the shared stack, with topics created and the
    schema migrated."""
    settings = namespaced(stack_settings)
    create_topics(settings)
    migrate(settings)
    return settings


@pytest.fixture(scope="session")
def guardrail_artifacts() -> None:
    """Train every classifier artifact that is missing or stale (fixed seeds; about a minute),
    the same way `raiwatch guardrails train --if-stale` does, so the tests never judge a model
    trained with another configuration or on other data than this checkout builds."""
    from raiwatch.trainers.guardrail import artifact_is_current, train_guardrail
    from raiwatch.trainers.guardrail_config import CHECKS, GuardrailTrainingConfig

    for check in CHECKS:
        config = GuardrailTrainingConfig(check=check)
        if not artifact_is_current(config):
            train_guardrail(config)
