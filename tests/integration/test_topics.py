"""Registry topics exist on the real broker with their declared configs."""

from __future__ import annotations

import pytest

from raiwatch.ops.topics import create_topics, list_topics
from raiwatch.schemas.registry import TOPICS

pytestmark = pytest.mark.integration


def test_topics_exist_with_their_configs(fresh_settings) -> None:
    states = {s.spec.name: s for s in list_topics(fresh_settings)}
    assert set(states) == set(TOPICS)
    for name, state in states.items():
        spec = TOPICS[name]
        assert state.exists, name
        assert state.partitions == spec.partitions, name
        assert state.configs["cleanup.policy"] == spec.cleanup_policy, name
        if spec.retention_ms is not None:
            assert state.configs["retention.ms"] == str(spec.retention_ms), name
        assert state.matches, name


def test_create_is_idempotent(fresh_settings) -> None:
    assert create_topics(fresh_settings) == []
