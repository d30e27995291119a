"""Guardrails, judges and reward models behind one batchable scoring interface."""

from .catalog import available_checks
from .registry import create_check
from .scoring import Score, Scorer, ScoringItem

__all__ = ["Score", "Scorer", "ScoringItem", "available_checks", "create_check"]
