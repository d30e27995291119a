"""Risk levels per incident category, shared by every worker: the incident stage publishes a
change to a compacted internal topic (keyed by category, in its transaction); each worker
follows it into a `RiskBook`, and the screen's judge routing samples more of the policies an
elevated category touches (`policy.judge_route`)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from ..ops.settings import RaiwatchSettings
from ..schemas.common import Pillar
from .runtime.follower import TopicFollower

log = logging.getLogger(__name__)


def risk_topic(settings: RaiwatchSettings) -> str:
    """The compacted internal topic of risk levels (created with the pipeline's internal topics)."""
    return f"{settings.kafka.topic_prefix}{settings.stages.app_id}-risk-levels"


def risk_record(category: str, pillar: Pillar, level: str, at_ms: int) -> bytes:
    return orjson.dumps({"category": category, "pillar": pillar.value, "level": level, "at_ms": at_ms})


class RiskBook:
    """The elevated categories (category -> pillar) as the worker last heard."""

    def __init__(self) -> None:
        self.elevated: dict[str, Pillar] = {}

    def take(self, value: bytes | None) -> None:
        try:
            change: dict[str, Any] = orjson.loads(value or b"")
            category, level, pillar = change["category"], change["level"], Pillar(change["pillar"])
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
            log.error("a risk-level record that is not one: %r; ignored", (value or b"")[:200])
            return
        if level == "elevated":
            self.elevated[category] = pillar
        else:
            self.elevated.pop(category, None)


class RiskReader(TopicFollower):
    """Follows the risk-level topic into a `RiskBook` (a supervised worker part)."""

    def __init__(self, settings: RaiwatchSettings, book: RiskBook) -> None:
        super().__init__(settings, risk_topic(settings), book.take)
