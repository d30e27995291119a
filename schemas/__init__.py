"""Wire formats: one pydantic model per topic, the topic registry, the decoder, ClickHouse DDL."""

from .common import ModelRef, Pillar, Severity, TopicEvent
from .dead_letters import DeadLetterReason, DeadLetterV2
from .decoder import DecodeFailure, decode
from .registry import TOPICS, TopicSpec, topic_spec

__all__ = [
    "ModelRef", "Pillar", "Severity", "TopicEvent", "DeadLetterReason", "DeadLetterV2",
    "DecodeFailure", "decode", "TOPICS", "TopicSpec", "topic_spec",
]
