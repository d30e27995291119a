"""The fast guardrail tier: presidio PII and secrets, and trained linear classifiers for prompt
injection, harmful requests (with hazard categories) and refusals.

Registering here is cheap (no numpy, torch or spaCy import); building a check loads its model or
artifact. Artifacts come from `raiwatch guardrails train`.
"""

from __future__ import annotations

from typing import Any

from ..registry import register_check
from ..scoring import Scorer


@register_check("pii.presidio", version="1", description="PII and secrets: presidio patterns + spaCy NER")
def presidio_pii(**args: Any) -> Scorer:
    """PII (e-mail, phone, cards, SSN, IBAN, IP, names, places) and secrets, with redaction."""
    from .pii import PresidioPiiCheck

    return PresidioPiiCheck(**args)


@register_check("injection.classifier", version="1", description="Prompt injection / jailbreak, trained classifier")
def injection_classifier(**args: Any) -> Scorer:
    """How likely the prompt is a prompt injection or jailbreak."""
    from .classifier import InjectionClassifierCheck

    return InjectionClassifierCheck(**args)


@register_check("harm.classifier", version="1", description="Harmful request with hazard category, trained classifier")
def harm_classifier(**args: Any) -> Scorer:
    """How likely the prompt asks for harmful content; names the hazard (S1..S14)."""
    from .classifier import HarmClassifierCheck

    return HarmClassifierCheck(**args)


@register_check("refusal.classifier", version="1", description="Refusal in the output (over-refusal), trained classifier")
def refusal_classifier(**args: Any) -> Scorer:
    """How likely the output is a refusal; with a benign prompt, an over-refusal."""
    from .classifier import RefusalClassifierCheck

    return RefusalClassifierCheck(**args)


FAST_TIER = ("pii.presidio", "injection.classifier", "harm.classifier", "refusal.classifier")
