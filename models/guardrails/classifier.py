"""Trained guardrail classifiers as checks: prompt injection, harmful requests, refusals.

Each loads its artifact (`artifacts.py`) once, scores a whole batch with one sparse matrix
product, and explains a flag with the word n-grams that pushed the score up most, located in
the text as evidence spans. Artifacts are built by `raiwatch guardrails train`; the registry
entries live in `models/guardrails/__init__.py` so that registering never imports numpy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...schemas.common import Pillar
from ...schemas.verdicts import EvidenceSpan
from ..scoring import Score, ScoringItem
from .artifacts import load_artifact

MAX_CHARS = 4096


def clip_text(text: str, head_chars: int = 0) -> str:
    """The part of a text a classifier reads: the first `head_chars` characters when set;
    otherwise head and tail of very long texts (jailbreak set-ups open, the ask comes last)."""
    if head_chars:
        return text[:head_chars]
    if len(text) <= MAX_CHARS:
        return text
    return text[: MAX_CHARS - 1024] + " … " + text[-1024:]


class GuardrailClassifierCheck:
    """A trained linear classifier over one side of the item (prompt or output)."""

    check_name = ""
    version = "1"
    source = "prompt"
    pillar = Pillar.SAFETY
    flag_category = ""

    def __init__(self, threshold: float | None = None, model_root: str | None = None, evidence_terms: int = 3) -> None:
        self.artifact = load_artifact(self.check_name, self.version, Path(model_root) if model_root else None)
        self.threshold = float(threshold) if threshold is not None else self.artifact.threshold
        self.evidence_terms = evidence_terms
        self.head_chars = int(self.artifact.manifest["config"].get("head_chars", 0))
        self.check_id = f"{self.check_name}@{self.version}"
        pipeline = self.artifact.pipeline
        self._features = pipeline.named_steps["features"]
        self._classifier = pipeline.named_steps["classifier"]
        self._word_vocab, self._word_coef = self._word_weights()

    def _word_weights(self) -> tuple[np.ndarray, np.ndarray]:
        word = dict(self._features.transformer_list)["word"]
        vocab = word.get_feature_names_out()
        return vocab, self._classifier.coef_[0][: len(vocab)]

    async def score_batch(self, items: Sequence[ScoringItem]) -> list[Score]:
        try:
            return self.score_texts(items)
        except Exception as exc:  # a batch that cannot be scored must not stop the stream
            return [Score.unscored(self.check_id, self.pillar, f"{type(exc).__name__}: {exc}") for _ in items]

    def score_texts(self, items: Sequence[ScoringItem]) -> list[Score]:
        texts = [clip_text(getattr(item, self.source) or "", self.head_chars) for item in items]
        features = self._features.transform(texts)
        scores = self._classifier.predict_proba(features)[:, 1]
        flagged = [i for i, s in enumerate(scores) if s >= self.threshold and texts[i]]
        categories = self._categories(features, flagged)
        out = []
        for i, (item, text) in enumerate(zip(items, texts)):
            if not text:
                out.append(Score(check=self.check_id, pillar=self.pillar, value=0.0, rationale=f"empty {self.source}"))
                continue
            value = float(scores[i])
            if i not in categories:
                out.append(Score(check=self.check_id, pillar=self.pillar, value=value))
                continue
            evidence = self._evidence(features[i], text, categories[i])
            terms = ", ".join(repr(text[e.start:e.end]) for e in evidence)
            out.append(Score(
                check=self.check_id, pillar=self.pillar, value=value, categories=(categories[i],),
                evidence=tuple(evidence),
                rationale=f"{categories[i]} score {value:.2f} >= {self.threshold:.2f}" + (f"; driven by {terms}" if terms else ""),
            ))
        return out

    def _categories(self, features: Any, flagged: list[int]) -> dict[int, str]:
        return {i: self.flag_category for i in flagged}

    def _evidence(self, row: Any, text: str, label: str) -> list[EvidenceSpan]:
        """Word n-grams with the largest positive contribution, found in the text."""
        row = row.tocsr()
        idx = row.indices[row.indices < len(self._word_vocab)]
        if not len(idx):
            return []
        contribution = np.asarray(row[0, idx].todense()).ravel() * self._word_coef[idx]
        spans: list[EvidenceSpan] = []
        for j in np.argsort(-contribution)[: self.evidence_terms * 4]:
            if contribution[j] <= 0 or len(spans) >= self.evidence_terms:
                break
            words = self._word_vocab[idx[j]].split()
            if sum(len(w) for w in words) < 3:  # "a", "I", "m" explain nothing to a reviewer
                continue
            match = re.search(r"\b" + r"\W+".join(map(re.escape, words)) + r"\b", text, re.IGNORECASE)
            if match and not any(s.start < match.end() and match.start() < s.end for s in spans):
                spans.append(EvidenceSpan(source=self.source, start=match.start(), end=match.end(), label=label))
        return sorted(spans, key=lambda s: s.start)


class InjectionClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the prompt is a prompt injection or jailbreak."""

    check_name = "injection.classifier"
    pillar = Pillar.PRIVACY_SECURITY
    flag_category = "injection"


class HarmClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the prompt requests harmful content; names the hazard (S1..S14)."""

    check_name = "harm.classifier"
    pillar = Pillar.SAFETY

    def _categories(self, features: Any, flagged: list[int]) -> dict[int, str]:
        head = self.artifact.category_pipeline
        if not flagged:
            return {}
        if head is None:
            return {i: "S0.other_harm" for i in flagged}
        return dict(zip(flagged, head.predict(features[flagged]).tolist()))


class RefusalClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the output is a refusal; paired with a benign prompt it is an over-refusal."""

    check_name = "refusal.classifier"
    source = "output"
    pillar = Pillar.CONTROLLABILITY
    flag_category = "refusal"
