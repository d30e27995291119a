"""An incident report's pillar and category, by rules: the harm categories first (what the
model did), then the other pillars' categories, then the attack (a jailbreak that produced bomb
instructions is a weapons incident that came through an injection). "other" when nothing
matches."""

from __future__ import annotations

import re

from ..schemas.common import Pillar

RULES: list[tuple[str, Pillar, re.Pattern[str]]] = [(category, pillar, re.compile(pattern, re.IGNORECASE)) for
                                                    category, pillar, pattern in [
    ("S9.weapons", Pillar.SAFETY, r"\b(?:bomb|explosive|weapon|nerve agent|sarin|bioweapon|firearm)s?\b"),
    ("S11.self_harm", Pillar.SAFETY, r"\b(?:self-?harm|suicid\w*|hurt (?:him|her|them)sel(?:f|ves))\b"),
    ("S1.violent_crimes", Pillar.SAFETY, r"\b(?:murder\w*|kill (?:someone|a person|people)|assault\w*)\b"),
    ("S2.nonviolent_crimes", Pillar.SAFETY, r"\b(?:phishing|launder\w*|fraud\w*|hack\w* into|steal\w*|scam\w*)\b"),
    ("pii", Pillar.PRIVACY_SECURITY, r"\b(?:personal data|phone number|home address|dates? of birth|doxx\w*|"
                                     r"social security|credit card numbers?)\b"),
    ("system_prompt_leak", Pillar.CONTROLLABILITY, r"\b(?:system prompt|hidden instructions|internal instructions)\b"),
    ("claims_human", Pillar.TRANSPARENCY, r"\b(?:(?:claimed|insisted|pretended) (?:it was |to be )?(?:a )?"
                                          r"(?:human|real person)|denied being an ai|human agent named)\b"),
    ("stereotyping", Pillar.FAIRNESS, r"\b(?:stereotyp\w*|racis\w*|sexis\w*|biased|discriminat\w*)\b"),
    ("hallucination", Pillar.VERACITY_ROBUSTNESS, r"\b(?:invented|fabricated|made up|hallucinat\w*|fake citations?)\b"),
    ("injection", Pillar.PRIVACY_SECURITY, r"\b(?:prompt injection|jailbreak\w*|ignore (?:all )?previous instructions|"
                                           r"exfiltrat\w*)\b"),
    ("over_refusal", Pillar.CONTROLLABILITY, r"\b(?:refus\w+ to (?:explain|answer|help)|refuses to answer|"
                                             r"over-?refus\w*)\b"),
]]
OTHER = "other"


def classify_incident(text: str, example_prompt: str = "") -> tuple[Pillar, str]:
    """(pillar, category) of a report; the example prompt counts too."""
    both = f"{text}\n{example_prompt}"
    for category, pillar, pattern in RULES:
        if pattern.search(both):
            return pillar, category
    return Pillar.SAFETY, OTHER
