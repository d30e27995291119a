"""Turning a first-token distribution into a calibrated risk score.

A backend reports candidate tokens with log-probabilities. A token counts for an answer option
when its normalised text (stripped, lower case) is a non-empty prefix of that option and of no
other: "unsafe" may be emitted as "uns" + "afe", and the first token is all we read. The score is
the expected risk under the option probabilities renormalised over the options, so mass the model
puts on other tokens ("I", "The") does not bias it; that mass is reported as `off_answer`.

With a top-k list (servers) an option missing from the list has at most the smallest listed
probability; we use that bound rather than zero, which errs towards more risk, never less.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..backends.base import JudgeCompletion, TokenLogprob
from .rubric import Rubric


def normalise_token(token: str) -> str:
    """Token text as compared with answer labels (SentencePiece/BPE space markers removed)."""
    return token.replace("\u2581", " ").replace("\u0120", " ").strip().lower()


def option_for_token(token: str, labels: Sequence[str]) -> int | None:
    """Index of the single option this token starts, or None (no option, or ambiguous)."""
    text = normalise_token(token)
    if not text:
        return None
    hits = [i for i, label in enumerate(labels) if label.startswith(text)]
    return hits[0] if len(hits) == 1 else None


def _logsumexp(values: Iterable[float]) -> float:
    values = list(values)
    if not values:
        return -math.inf
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


@dataclass(frozen=True)
class AnswerDistribution:
    """The judge's answer: option probabilities and the risk they imply."""

    probabilities: dict[str, float]
    """Probability of each option label, renormalised over the options (sums to 1)."""
    risk: float
    """Expected risk in [0, 1] under `probabilities`."""
    top: str
    """The most likely option label."""
    off_answer: float
    """Probability mass the model put on tokens that start no option (0 for top-k lists)."""
    bounded: tuple[str, ...] = ()
    """Options absent from a top-k list whose probability is an upper bound."""
    calibrated: bool = True
    """False when read from the answer text because the backend returned no log-probabilities."""

    def rationale(self) -> str:
        """One line for the verdict: the answer, the probabilities, and any caveat."""
        probs = ", ".join(f"P({label})={p:.3f}" for label, p in self.probabilities.items())
        text = f"judge answered {self.top!r} ({probs})"
        if not self.calibrated:
            return text + "; UNCALIBRATED: the backend returned no log-probabilities, answer parsed from text"
        if self.bounded:
            text += f"; not in top-k: {', '.join(self.bounded)} (upper bound used)"
        if self.off_answer > 0.5:
            text += f"; {self.off_answer:.0%} of the mass was on non-answer tokens"
        return text


def distribution_from_logprobs(
    logprobs: Sequence[TokenLogprob], rubric: Rubric, *, complete: bool
) -> AnswerDistribution | None:
    """Answer distribution from candidate tokens; None when no token starts any option."""
    labels = rubric.labels
    per_option: list[list[float]] = [[] for _ in labels]
    for candidate in logprobs:
        index = option_for_token(candidate.token, labels)
        if index is not None:
            per_option[index].append(candidate.logprob)
    if not any(per_option):
        return None
    bounded: list[str] = []
    floor = min((c.logprob for c in logprobs), default=-math.inf)
    option_logprobs: list[float] = []
    for label, found in zip(labels, per_option, strict=True):
        if found:
            option_logprobs.append(_logsumexp(found))
        elif complete:
            option_logprobs.append(-math.inf)
        else:
            option_logprobs.append(floor)
            bounded.append(label)
    total = _logsumexp(option_logprobs)
    probs = [math.exp(lp - total) for lp in option_logprobs]
    risk = sum(p * option.risk for p, option in zip(probs, rubric.options, strict=True))
    answer_mass = math.exp(total) if complete else 1.0
    top = labels[max(range(len(labels)), key=probs.__getitem__)]
    return AnswerDistribution(
        probabilities=dict(zip(labels, probs, strict=True)),
        risk=min(1.0, max(0.0, risk)),
        top=top,
        off_answer=max(0.0, 1.0 - answer_mass),
        bounded=tuple(bounded),
    )


def distribution_from_text(text: str, rubric: Rubric) -> AnswerDistribution | None:
    """Fallback when a backend gives no log-probabilities: the answer word, probability 1."""
    words = text.strip().split()
    if not words:
        return None
    index = option_for_token(words[0].strip(".,:;!\"'*"), rubric.labels)
    if index is None:
        return None
    probs = {label: 1.0 if i == index else 0.0 for i, label in enumerate(rubric.labels)}
    return AnswerDistribution(
        probabilities=probs, risk=rubric.options[index].risk, top=rubric.labels[index],
        off_answer=0.0, calibrated=False,
    )


def read_answer(completion: JudgeCompletion, rubric: Rubric) -> AnswerDistribution | None:
    """The distribution from log-probabilities when present, else the parsed answer text."""
    if completion.logprobs is not None:
        return distribution_from_logprobs(completion.logprobs, rubric, complete=completion.complete)
    return distribution_from_text(completion.text, rubric)
