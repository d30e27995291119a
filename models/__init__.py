"""Guardrails, judges and reward models behind one batchable scoring interface."""

from .registry import create_check, register_check, registered_checks
from .scoring import Score, Scorer, ScoringItem

__all__ = ["Score", "Scorer", "ScoringItem", "create_check", "register_check", "registered_checks"]
