"""The check table: every built-in check's name and where its implementation lives. A module is
imported only when one of its checks is first built, so listing the checks never loads numpy,
spaCy or torch.

Other packages add checks without editing raiwatch, through the `raiwatch.checks` entry-point
group: the entry point's name is the check's name, its value the factory (`"module:callable"`),
e.g. in the plugin's pyproject.toml:

    [project.entry-points."raiwatch.checks"]
    "acme.shouting" = "acme_checks:ShoutingCheck"

A factory takes the check's arguments as keywords and returns a `Scorer`; it may give the
scorer a `version` (of its artifact or logic) and an `identity()` (the resolved arguments that
change its results), which the check id records (`models/registry.py`). A plugin cannot replace
a built-in check: the built-in name wins, with a warning.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "raiwatch.checks"


@dataclass(frozen=True)
class CheckEntry:
    """A check in the table: its name, its factory's location, what it does, who provides it."""

    name: str
    target: str  # "module:attribute"
    description: str
    provider: str = "raiwatch"

    def load(self) -> Callable[..., Any]:
        """Import the factory."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


BUILTIN_CHECKS: dict[str, CheckEntry] = {entry.name: entry for entry in [
    CheckEntry("pii.regex", "raiwatch.models.rules:RegexPiiCheck",
               "PII and secrets by regular expression (rules; the default tier)"),
    CheckEntry("harm.keywords", "raiwatch.models.rules:KeywordCheck",
               "Harm and injection by keyword list (rules; the default tier)"),
    CheckEntry("refusal.keywords", "raiwatch.models.rules:KeywordRefusalCheck",
               "Refusal phrases in outputs (rules; the default tier)"),
    CheckEntry("pii.presidio", "raiwatch.models.guardrails.pii:PresidioPiiCheck",
               "PII and secrets: presidio patterns + spaCy NER, with redaction"),
    CheckEntry("injection.classifier", "raiwatch.models.guardrails.classifier:InjectionClassifierCheck",
               "Prompt injection / jailbreak in the prompt, trained classifier"),
    CheckEntry("harm.classifier", "raiwatch.models.guardrails.classifier:HarmClassifierCheck",
               "Harmful request with hazard category (S1-S14), trained classifier"),
    CheckEntry("refusal.classifier", "raiwatch.models.guardrails.classifier:RefusalClassifierCheck",
               "Refusal in the output (for over-refusal), trained classifier"),
    CheckEntry("compliance.classifier", "raiwatch.models.guardrails.classifier:ComplianceClassifierCheck",
               "Output does what was asked (vs refusal, deflection, safety info), trained classifier"),
    CheckEntry("harmful_reply.classifier", "raiwatch.models.guardrails.classifier:HarmfulReplyClassifierCheck",
               "Output gives harmful help (vs benign answer, refusal, deflection, safety info), trained classifier"),
    CheckEntry("fairness.classifier", "raiwatch.models.guardrails.classifier:FairnessClassifierCheck",
               "Output stereotypes or demeans a protected group (not: debunking, refusing, neutral mentions), "
               "trained classifier"),
    CheckEntry("leakage.system_prompt", "raiwatch.models.pillar_checks:SystemPromptLeakCheck",
               "Output reproduces its system prompt (word n-gram overlap; controllability)"),
    CheckEntry("disclosure.ai_identity", "raiwatch.models.pillar_checks:AiDisclosureCheck",
               "Output claims to be human or denies being an AI, six languages (transparency, EU AI Act Art. 50)"),
    CheckEntry("grounding.context", "raiwatch.models.pillar_checks:GroundednessCheck",
               "Numbers and named entities in the output that its context does not contain (veracity)"),
    CheckEntry("explain.refusal_reason", "raiwatch.models.pillar_checks:RefusalReasonCheck",
               "A refusal that gives no reason (explainability; recorded, not a violation)"),
    CheckEntry("governance.model_registry", "raiwatch.models.pillar_checks:ModelRegistryCheck",
               "Traffic from a model version or adapter not in the approved registry (governance)"),
    CheckEntry("reward.model", "raiwatch.models.reward_scorer:RewardModelCheck",
               "Auxiliary reward model (LoRA head on a small LM, `raiwatch train reward`): risk = sigmoid(-reward)"),
    CheckEntry("judge.safety", "raiwatch.models.judges.checks:safety_judge",
               "LLM judge, safety rubric; calibrated from answer log-probabilities"),
    CheckEntry("judge.fairness", "raiwatch.models.judges.checks:fairness_judge",
               "LLM judge, fairness rubric; calibrated from answer log-probabilities"),
    CheckEntry("judge.prompt_injection", "raiwatch.models.judges.checks:prompt_injection_judge",
               "LLM judge, prompt-injection rubric; calibrated from answer log-probabilities"),
]}


RULE_TIER = ("pii.regex", "harm.keywords", "refusal.keywords")
"""The rule tier for PII, harm and refusal (no models), as evaluated; the default screen adds the pillar checks (`models/pillar_checks.py`)."""
TRAINED_TIER = ("pii.presidio", "injection.classifier", "harm.classifier", "refusal.classifier", "compliance.classifier",
                "harmful_reply.classifier", "fairness.classifier")
"""The trained fast tier (artifacts from `raiwatch guardrails train`), as benchmarked and evaluated."""


@cache
def available_checks() -> dict[str, CheckEntry]:
    """Built-in checks plus those other installed packages declare (entry points)."""
    checks = dict(BUILTIN_CHECKS)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        provider = point.dist.name if point.dist is not None else "unknown"
        if point.name in BUILTIN_CHECKS:
            log.warning("package %s declares check %r, which is built in; the built-in one is used", provider,
                        point.name)
            continue
        checks[point.name] = CheckEntry(point.name, point.value, f"provided by {provider}", provider)
    return checks
