"""Imports every module that registers checks, so the registry knows them all.

Modules that need the ML extra register lazily-loading factories: importing them is cheap and
never requires torch; building the check does.
"""

from __future__ import annotations

from . import rules  # noqa: F401
from . import guardrails  # noqa: F401,E402  (PII, injection, harm and refusal guardrails)
from .judges import checks as judge_checks  # noqa: F401,E402  (LLM judges; torch loads on first use)
