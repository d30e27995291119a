"""Wire formats: one pydantic model per topic, the topic registry, the decoder, ClickHouse DDL."""

from .common import ModelRef, Pillar, Severity, TopicEvent
from .dead_letters import DeadLetterReason, DeadLetterV1
from .decoder import DecodeFailure, dead_letter, decode
from .registry import TOPICS, TopicSpec, topic_spec

__all__ = [
    "ModelRef", "Pillar", "Severity", "TopicEvent", "DeadLetterReason", "DeadLetterV1",
    "DecodeFailure", "dead_letter", "decode", "TOPICS", "TopicSpec", "topic_spec",
]
