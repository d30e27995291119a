"""Which pillars and policies a regulation text affects: MiniLM sentence embeddings of the
article against a description of each pillar, plus a keyword score, then the policies of the
best pillars ranked by the similarity of their own texts.

The pillar descriptions and keywords below were written from the pillar table of the design
(`../shared/DESIGN.md`) before any article was labelled; the hand-labelled articles in
`ops/bench/data/regulation_pillars.jsonl` only measure the mapping
(`python -m raiwatch.ops.bench.regulation_mapping`), nothing is fitted to them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..schemas.common import Pillar
from ..schemas.policies import PolicyV2

PILLAR_TEXTS: dict[Pillar, str] = {
    Pillar.PRIVACY_SECURITY: (
        "Protection of personal data and privacy: lawful processing, data minimisation, consent, rights of the "
        "data subject, confidentiality. Security of processing and cybersecurity: protection against attacks, "
        "vulnerabilities, unauthorised access, data poisoning, adversarial inputs, incident notification."),
    Pillar.SAFETY: (
        "Prevention of harm to the health, safety and fundamental rights of people. Prohibited practices that "
        "manipulate, exploit vulnerabilities or cause significant harm. Risk management of serious risks, "
        "systemic risks and serious incidents; dangerous products and hazards."),
    Pillar.FAIRNESS: (
        "Non-discrimination and equal treatment: bias in data and outputs, discrimination on the basis of sex, "
        "racial or ethnic origin, religion, disability, age or sexual orientation; representative data sets, "
        "examination and correction of biases, vulnerable groups."),
    Pillar.VERACITY_ROBUSTNESS: (
        "Accuracy, robustness and reliability of the system and its outputs: appropriate levels of accuracy, "
        "resilience against errors, faults and inconsistencies, testing and validation, data quality, "
        "technical solutions against feedback loops, consistent performance throughout the lifecycle."),
    Pillar.EXPLAINABILITY: (
        "Explanation of decisions and outputs: meaningful information about the logic involved, the right to "
        "obtain an explanation of an individual decision, interpretability of outputs, instructions that "
        "enable deployers to interpret the system's output and use it appropriately."),
    Pillar.CONTROLLABILITY: (
        "Human oversight and control: natural persons can monitor, intervene, override or stop the system, "
        "the system operates within its intended purpose and instructions, automation bias is avoided, "
        "the right not to be subject to a decision based solely on automated processing."),
    Pillar.GOVERNANCE: (
        "Governance and accountability of providers, deployers and authorities: quality management systems, "
        "technical documentation, record-keeping and logs, conformity assessment, registration, notified "
        "bodies, market surveillance, supervision, codes of conduct, reporting obligations and penalties."),
    Pillar.TRANSPARENCY: (
        "Transparency towards people: informing natural persons that they are interacting with an AI system, "
        "marking and labelling AI-generated or manipulated content such as deep fakes, disclosure of the use "
        "of emotion recognition or biometric categorisation, information provided to users."),
}

PILLAR_KEYWORDS: dict[Pillar, tuple[str, ...]] = {
    Pillar.PRIVACY_SECURITY: ("personal data", "data subject", "privacy", "confidential", "cybersecurity",
                              "security", "vulnerabilit", "attack", "encrypt", "breach"),
    Pillar.SAFETY: ("harm", "safety", "health", "prohibited", "serious incident", "systemic risk", "hazard",
                    "fundamental rights", "risk management"),
    Pillar.FAIRNESS: ("discriminat", "bias", "equal", "gender", "ethnic", "disabilit", "vulnerable group",
                      "representative"),
    Pillar.VERACITY_ROBUSTNESS: ("accuracy", "accurate", "robust", "resilien", "reliab", "testing", "validation",
                                 "error", "data quality"),
    Pillar.EXPLAINABILITY: ("explanation", "explain", "interpret", "logic involved", "meaningful information"),
    Pillar.CONTROLLABILITY: ("human oversight", "oversight", "intervene", "override", "stop button",
                             "automated decision", "automation bias", "intended purpose"),
    Pillar.GOVERNANCE: ("quality management", "documentation", "record-keeping", "conformity", "registration",
                        "notified bod", "market surveillance", "penalt", "authorit", "codes of conduct", "report"),
    Pillar.TRANSPARENCY: ("transparen", "inform", "disclos", "label", "deep fake", "interacting with an ai",
                          "ai-generated", "machine-readable", "marked"),
}
KEYWORD_WEIGHT = 0.15  # a text full of one pillar's terms gains this much similarity
CHUNK_CHARS = 600
MAX_CHUNKS = 8


@dataclass(frozen=True)
class Mapping:
    """A text's pillars (best first, with scores) and the policies they point at."""

    pillars: list[tuple[Pillar, float]]
    policies: list[tuple[str, float]]  # policy id, similarity: policies of the best pillars first

    @property
    def top(self) -> Pillar:
        return self.pillars[0][0]


class RegulationMapper:
    """Maps regulation text to pillars and policies (MiniLM loads on first use)."""

    def __init__(self, embedder: object | None = None, keyword_weight: float = KEYWORD_WEIGHT,
                 embeddings: bool = True) -> None:
        self._embedder = embedder
        self.keyword_weight, self.embeddings = keyword_weight, embeddings  # both: the mapping; one: an ablation

    @cached_property
    def embedder(self):
        if self._embedder is None:
            from ..models.guardrails.embeddings import MiniLMEmbedder

            self._embedder = MiniLMEmbedder(max_length=256)
        return self._embedder

    @cached_property
    def pillar_vectors(self) -> np.ndarray:
        return self.embedder.transform([PILLAR_TEXTS[p] for p in Pillar])

    def embed(self, text: str) -> np.ndarray:
        """A long text as the normalised mean of its first chunks' embeddings."""
        chunks = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)][:MAX_CHUNKS] or [""]
        mean = self.embedder.transform(chunks).mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-9)

    def map(self, text: str, policies: Sequence[PolicyV2] = (), pillars_considered: int = 2) -> Mapping:
        vector = self.embed(text)
        similarity = self.pillar_vectors @ vector if self.embeddings else np.zeros(len(Pillar))
        lowered = text.lower()
        words = max(1, len(re.findall(r"\w+", lowered)))
        scores = []
        for pillar, sim in zip(Pillar, similarity, strict=True):
            hits = sum(lowered.count(keyword) for keyword in PILLAR_KEYWORDS[pillar])
            scores.append((pillar, round(float(sim) + self.keyword_weight * min(1.0, hits * 100 / words / 2), 4)))
        ranked = sorted(scores, key=lambda pair: -pair[1])
        best = {pillar for pillar, _ in ranked[:pillars_considered]}
        candidates = [p for p in policies if p.pillar in best and p.active]
        if candidates:
            texts = self.embedder.transform([f"{p.title}. {p.description} {p.rubric}" for p in candidates])
            order = {pillar: rank for rank, (pillar, _) in enumerate(ranked)}
            related = sorted(((p.policy_id, round(float(s), 4), order[p.pillar]) for p, s in zip(candidates, texts @ vector,
                                                                                                strict=True)),
                             key=lambda item: (item[2], -item[1]))
            return Mapping(ranked, [(policy_id, score) for policy_id, score, _ in related])
        return Mapping(ranked, [])
