"""Trained guardrail classifiers as checks: prompt injection, harmful requests, refusals,
compliance (does the reply do what was asked), harmful replies (does it give harmful help) and
fairness (does the reply stereotype or demean
a group).

Each loads its artifact (`artifacts.py`) once, scores a whole batch with one sparse matrix
product (long texts as overlapping windows, the worst window counting), and explains a flag
with the word n-grams that pushed the score up most, located in the text as evidence spans.
Artifacts are built by `raiwatch guardrails train`; the check table (`models/catalog.py`)
imports this module only when one of these checks is built.
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
from .taxonomy import HARMFUL_ON_ITS_OWN

MAX_CHARS = 4096
MAX_CHUNKS = 16  # beyond 16 windows (~60k characters) the first 15 and the last are scored
SMALL_CHARS = 384  # an attack fills enough of a window this size that padding cannot dilute it
MAX_SMALL_CHUNKS = 128  # small windows cover the first ~32k characters and the end
SENTENCE_WORDS = 8  # a sentence window grows to at least this many words (or the end of the text)
MAX_SENTENCE_WINDOWS = 64
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
SENTENCE_WINDOWS_ID = f"pairs:{SENTENCE_WORDS}:{_SENTENCE_END.pattern}"
"""Identifies how sentence windows are cut: an artifact whose threshold was chosen with other
windows is stale."""


def clip_text(text: str, head_chars: int = 0) -> str:
    """The part of a text a classifier reads: the first `head_chars` characters when set;
    otherwise head and tail of very long texts (jailbreak set-ups open, the ask comes last)."""
    if head_chars:
        return text[:head_chars]
    if len(text) <= MAX_CHARS:
        return text
    return text[: MAX_CHARS - 1024] + " … " + text[-1024:]


def _windows(text: str, size: int, overlap: int, limit: int) -> list[str]:
    step = size - overlap
    starts = list(range(0, max(1, len(text) - overlap), step))
    if len(starts) > limit:
        starts = starts[: limit - 1] + [len(text) - size]
    return [text[start:start + size] for start in starts]


def sentence_windows(text: str) -> list[str]:
    """Runs of consecutive sentences, one starting at each sentence: two sentences, more while
    shorter than `SENTENCE_WORDS` words; the last ones, running to the end of the text, only
    when that long. One stereotyping sentence in an otherwise ordinary answer dominates its
    window; a claim and the sentence that rejects it right after share one."""
    sentences = [s.strip() for s in _SENTENCE_END.split(text[: 2 * MAX_CHARS]) if s.strip()]
    if len(sentences) < 2:
        return []
    out = []
    for i in range(len(sentences)):
        end, words = i + 1, len(sentences[i].split())
        while end < len(sentences) and (end - i < 2 or words < SENTENCE_WORDS):
            words += len(sentences[end].split())
            end += 1
        if words >= SENTENCE_WORDS:
            out.append(" ".join(sentences[i:end]))
        if len(out) >= MAX_SENTENCE_WINDOWS:
            break
    return out


def chunk_text(text: str, head_chars: int = 0, sentences: bool = False) -> list[str]:
    """What gets scored (the highest-scoring piece counts): the head for head-reading checks;
    otherwise the text in windows of up to 4096 characters (how the classifiers were trained),
    plus, for anything longer than a short prompt, overlapping 384-character windows. TF-IDF
    rows are normalised per window, so an injection sentence inside 4,000 characters of
    harmless padding scores low in the big window and high in its small one. With `sentences`,
    also windows of sentences (`sentence_windows`)."""
    if head_chars:
        return [clip_text(text, head_chars)]
    extra = sentence_windows(text) if sentences else []
    if len(text) <= SMALL_CHARS:
        return [text, *extra]
    large = [text] if len(text) <= MAX_CHARS else _windows(text, MAX_CHARS, 256, MAX_CHUNKS)
    return large + _windows(text, SMALL_CHARS, 128, MAX_SMALL_CHUNKS) + extra


def score_chunked(features: Any, classifier: Any, texts: Sequence[str], head_chars: int = 0,
                  sentences: bool = False) -> tuple[np.ndarray, Any]:
    """Per text: the best chunk's score, and that chunk's feature row (for categories, evidence)."""
    chunks, owners = [], []
    for i, text in enumerate(texts):
        for chunk in chunk_text(text, head_chars, sentences):
            chunks.append(chunk)
            owners.append(i)
    matrix = features.transform(chunks)
    chunk_scores = classifier.predict_proba(matrix)[:, 1]
    best: dict[int, int] = {}
    for row, i in enumerate(owners):
        if i not in best or chunk_scores[row] > chunk_scores[best[i]]:
            best[i] = row
    rows = [best[i] for i in range(len(texts))]
    return chunk_scores[rows], matrix[rows]


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
        strict = self.artifact.manifest.get("strict_threshold")
        self.strict_threshold = float(strict) if strict is not None else None
        lenient = self.artifact.manifest.get("lenient_threshold")
        self.lenient_threshold = float(lenient) if lenient is not None and float(lenient) < self.threshold else None
        self.evidence_terms = evidence_terms
        self.head_chars = int(self.artifact.manifest["config"].get("head_chars", 0))
        self.sentences = bool(self.artifact.manifest["config"].get("sentence_windows", False))
        self.check_id = f"{self.check_name}@{self.version}"
        pipeline = self.artifact.pipeline
        self._features = pipeline.named_steps["features"]
        self._classifier = pipeline.named_steps["classifier"]
        self._word_vocab, self._word_coef = self._word_weights()

    def identity(self) -> dict[str, Any]:
        """What changes this check's results besides its arguments: the training data."""
        return {"data": self.artifact.manifest.get("data_fingerprint", "")}

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
        originals = [getattr(item, self.source) or "" for item in items]
        texts = [clip_text(text, self.head_chars) for text in originals]
        scores, features = score_chunked(self._features, self._classifier, originals, self.head_chars, self.sentences)
        flagged = [i for i, s in enumerate(scores) if s >= self.threshold and texts[i]]
        lenient = self.lenient_threshold
        possible = [] if lenient is None else [i for i, s in enumerate(scores) if lenient <= s < self.threshold and texts[i]]
        categories = self._categories(features, sorted(flagged + possible), scores)
        out = []
        for i, (item, text) in enumerate(zip(items, texts)):
            if not text:
                out.append(Score(check=self.check_id, pillar=self.pillar, value=0.0, rationale=f"empty {self.source}"))
                continue
            value = float(scores[i])
            if i not in categories:
                out.append(Score(check=self.check_id, pillar=self.pillar, value=value))
                continue
            if value < self.threshold and lenient is not None:  # above the lenient threshold only: not flagged
                out.append(Score(check=self.check_id, pillar=self.pillar, value=value,
                                 lenient_threshold=lenient, lenient_categories=(categories[i],),
                                 rationale=f"possible {categories[i]}: score {value:.2f} >= lenient {lenient:.2f}"))
                continue
            # Spans point into the original text (a clipped text's offsets would drift).
            evidence = self._evidence(features[i], originals[i], categories[i]) if self._explains(categories[i]) else []
            terms = ", ".join(repr(originals[i][e.start:e.end]) for e in evidence)
            out.append(Score(
                check=self.check_id, pillar=self.pillar, value=value, categories=(categories[i],),
                evidence=tuple(evidence),
                rationale=f"{categories[i]} score {value:.2f} >= {self.threshold:.2f}" + (f"; driven by {terms}" if terms else ""),
            ))
        return out

    def _categories(self, features: Any, flagged: list[int], scores: np.ndarray) -> dict[int, str]:
        return {i: self.flag_category for i in flagged}

    def _explains(self, category: str) -> bool:
        """Whether a flag with this category gets evidence spans: only where the verdict shows
        them (a finding, a refusal); a signal the verdict only combines (compliance) skips the
        work, 7% of the fast tier's time."""
        return True

    def _evidence(self, row: Any, text: str, label: str) -> list[EvidenceSpan]:
        """Word n-grams with the largest positive contribution, found in the text."""
        row = row.tocsr()
        words = row.indices < len(self._word_vocab)  # the word n-gram columns come first
        idx = row.indices[words]
        if not len(idx):
            return []
        contribution = row.data[words] * self._word_coef[idx]
        spans: list[EvidenceSpan] = []
        for j in np.argsort(-contribution)[: self.evidence_terms * 4]:
            if contribution[j] <= 0 or len(spans) >= self.evidence_terms:
                break
            words = self._word_vocab[idx[j]].split()
            if sum(len(w) for w in words) < 3:  # "a", "I", "m" explain nothing to a reviewer
                continue
            match = re.search(r"\b" + r"\W+".join(map(self._term_pattern, words)) + r"\b", text, re.IGNORECASE)
            if match and not any(s.start < match.end() and match.start() < s.end for s in spans):
                spans.append(EvidenceSpan(source=self.source, start=match.start(), end=match.end(), label=label))
        return sorted(spans, key=lambda s: s.start)

    def _term_pattern(self, word: str) -> str:
        """How a vocabulary word appears in the text (a preprocessor may have rewritten it)."""
        return re.escape(word)


class InjectionClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the prompt is a prompt injection or jailbreak."""

    check_name = "injection.classifier"
    pillar = Pillar.PRIVACY_SECURITY
    flag_category = "injection"


class HarmClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the prompt requests harmful content; names the hazard (S1..S14)."""

    check_name = "harm.classifier"
    pillar = Pillar.SAFETY

    def _categories(self, features: Any, flagged: list[int], scores: np.ndarray) -> dict[int, str]:
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


class ComplianceClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the output does what the prompt asked (rather than refusing,
    deflecting or giving only safety information). Not a finding by itself: the verdict calls a
    reply harmful compliance only when a prompt check found a harmful request and this check
    says the reply complied (`streams/verdicts.py`)."""

    check_name = "compliance.classifier"
    source = "output"
    pillar = Pillar.SAFETY
    flag_category = "complied"

    def _explains(self, category: str) -> bool:
        return False


class HarmfulReplyClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the output gives harmful help (content a harmful request asked for),
    as opposed to a benign answer, a refusal, a deflection or safety information. Not a finding
    by itself: with a harmful request found by a prompt check it is harmful compliance
    (`streams/verdicts.py`)."""

    check_name = "harmful_reply.classifier"
    source = "output"
    pillar = Pillar.SAFETY
    flag_category = "harmful_help"

    def _categories(self, features: Any, flagged: list[int], scores: np.ndarray) -> dict[int, str]:
        """`HARMFUL_ON_ITS_OWN` above the artifact's strict threshold (1% validation false
        positives): harmful content the verdict counts even when no prompt check found the
        request harmful ("How is sarin made?" scored under the harm threshold)."""
        strict = self.strict_threshold
        return {i: HARMFUL_ON_ITS_OWN if strict is not None and scores[i] >= strict else self.flag_category for i in flagged}

    def _explains(self, category: str) -> bool:
        return category == HARMFUL_ON_ITS_OWN  # a finding on its own; otherwise a signal the verdict combines


class FairnessClassifierCheck(GuardrailClassifierCheck):
    """Scores how likely the output stereotypes, demeans or treats unfairly a group defined by a
    protected characteristic (gender, ethnicity, religion, disability, age, sexual orientation,
    nationality). Debunking a stereotype, refusing to repeat one and neutral mentions of groups
    are not findings. Reads group names as one token (`group_terms.py`) and scores windows of
    sentences, so one stereotyping sentence in a long answer counts."""

    check_name = "fairness.classifier"
    source = "output"
    pillar = Pillar.FAIRNESS
    flag_category = "stereotyping"

    def _term_pattern(self, word: str) -> str:
        from .group_terms import GROUP_PATTERN, TOKEN

        return GROUP_PATTERN if word == TOKEN else re.escape(word)

    def _evidence(self, row: Any, text: str, label: str) -> list[EvidenceSpan]:
        """The base class's spans, neighbours joined: "Women" "are" "lazy" reads as one claim."""
        merged: list[EvidenceSpan] = []
        for span in super()._evidence(row, text, label):
            if merged and not text[merged[-1].end:span.start].strip(" ,"):
                merged[-1] = EvidenceSpan(source=span.source, start=merged[-1].start, end=span.end, label=label)
            else:
                merged.append(span)
        return merged
