"""Train, evaluate and save one guardrail classifier (injection, harm, refusal, compliance or
fairness).

One run: build the labelled set (`trainers/guardrail_data.py`), fit TF-IDF word and character
n-grams (optionally plus MiniLM embeddings) into a class-balanced logistic regression on the
train split, pick the decision threshold on the validation split only, then evaluate once on
the test split and write the artifact with its report. For harm, a second logistic regression
on the same features names the hazard category of flagged requests.
"""

from __future__ import annotations

import json
import platform
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.guardrails.artifacts import artifact_dir
from ..models.guardrails.classifier import SENTENCE_WINDOWS_ID, clip_text, score_chunked
from ..models.guardrails.group_terms import GROUP_TERMS_ID, mark_group_terms
from ..models.guardrails.request_frames import FRAMES_ID, strip_request_frame
from .datasets import LabelledText, fingerprint
from .guardrail_config import GuardrailTrainingConfig
from .guardrail_data import DATASETS

Progress = Callable[[str], None]


def build_pipeline(config: GuardrailTrainingConfig) -> Any:
    """The unfitted feature union + classifier."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    preprocessor = strip_request_frame if config.strip_frames else mark_group_terms if config.group_terms else None
    # "word" comes first: the checks read its coefficients to explain a flag (evidence spans).
    parts: list[tuple[str, Any]] = [
        ("word", TfidfVectorizer(analyzer="word", ngram_range=config.word_ngrams, sublinear_tf=True, min_df=2,
                                 max_features=config.max_features, token_pattern=r"(?u)\b\w+\b",
                                 preprocessor=preprocessor)),
    ]
    if config.char_ngrams and config.char_ngrams[0] > 0:
        parts.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=config.char_ngrams, sublinear_tf=True,
                                              min_df=2, max_features=config.max_features, preprocessor=preprocessor)))
    if config.features == "tfidf+minilm":
        from ..models.guardrails.embeddings import MiniLMEmbedder

        parts.append(("minilm", MiniLMEmbedder()))
    classifier = LogisticRegression(C=config.c, class_weight="balanced", max_iter=5000, solver="liblinear",
                                    random_state=config.seed)
    return Pipeline([("features", FeatureUnion(parts)), ("classifier", classifier)])


def fpr_threshold(scores: np.ndarray, labels: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold that flags at most `target_fpr` of the negatives."""
    negatives = np.sort(scores[labels == 0])[::-1]
    allowed = int(np.floor(target_fpr * len(negatives)))
    return float(np.nextafter(negatives[allowed], 1.0)) if allowed < len(negatives) else 0.5


def choose_threshold(scores: np.ndarray, labels: np.ndarray, config: GuardrailTrainingConfig) -> float:
    """Operating threshold (flag when score >= threshold), from validation data only."""
    if config.threshold_rule == "fpr":
        return fpr_threshold(scores, labels, config.target_fpr)
    # Candidates sit between neighbouring scores, and among equally good ones the middle one
    # wins: on well-separated validation data that keeps the widest margin to both classes.
    ordered = np.unique(scores)
    candidates = (ordered[:-1] + ordered[1:]) / 2 if len(ordered) > 1 else np.array([0.5])
    values = []
    for t in candidates:
        predicted = scores >= t
        tp = float(np.sum(predicted & (labels == 1)))
        if config.threshold_rule == "f1":
            values.append(2 * tp / max(1.0, float(np.sum(predicted)) + float(np.sum(labels == 1))))
        else:
            values.append(float(np.mean(predicted == (labels == 1))))
    values_arr = np.array(values)
    tied = np.sort(candidates[values_arr == values_arr.max()])
    return float(tied[len(tied) // 2])


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Precision, recall, F1, AUC, accuracy and false-positive rate at `threshold`."""
    from sklearn.metrics import roc_auc_score

    predicted = scores >= threshold
    tp = int(np.sum(predicted & (labels == 1)))
    fp = int(np.sum(predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))
    tn = int(np.sum(~predicted & (labels == 0)))
    # None where a metric is undefined (no positives in a benign-only source), never a fake 0.
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {
        "n": len(labels), "positives": tp + fn, "negatives": fp + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": None if precision is None else round(precision, 4),
        "recall": None if recall is None else round(recall, 4), "f1": f1,
        "auc": round(float(roc_auc_score(labels, scores)), 4) if 0 < tp + fn < len(labels) else None,
        "accuracy": round((tp + tn) / len(labels), 4) if len(labels) else 0.0,
        "fpr": round(fp / (fp + tn), 4) if fp + tn else None,
    }


def _split(examples: Sequence[LabelledText], split: str, head_chars: int) -> tuple[list[str], np.ndarray, list[LabelledText]]:
    """Texts as trained on (clipped to one window), labels, rows. Scoring uses `score_chunked`
    on the rows' full texts, as the checks do."""
    chosen = [ex for ex in examples if ex.split == split]
    return [clip_text(ex.text, head_chars) for ex in chosen], np.array([ex.label for ex in chosen]), chosen


def _per_group(scores: np.ndarray, chosen: list[LabelledText], threshold: float, key: Callable[[LabelledText], str]) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(chosen):
        groups[key(ex)].append(i)
    return {name: binary_metrics(scores[idx], np.array([chosen[i].label for i in idx]), threshold)
            for name, idx in sorted(groups.items())}


def train_guardrail(config: GuardrailTrainingConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Run one training job end to end; returns the evaluation report (also saved)."""
    import joblib
    import sklearn
    from sklearn.linear_model import LogisticRegression

    say = progress or (lambda _stage: None)
    started = time.perf_counter()
    np.random.seed(config.seed)
    say("loading labelled data")
    examples = DATASETS[config.check](config.seed)
    train_x, train_y, _ = _split(examples, "train", config.head_chars)
    _, val_y, val_rows = _split(examples, "validation", config.head_chars)
    _, test_y, test_rows = _split(examples, "test", config.head_chars)

    say(f"fitting on {len(train_x)} examples")
    pipeline = build_pipeline(config)
    pipeline.fit(train_x, train_y)
    features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]

    say("choosing the threshold on validation")
    val_scores, _ = score_chunked(features, classifier, [ex.text for ex in val_rows], config.head_chars,
                                  bool(config.sentence_windows))
    threshold = choose_threshold(val_scores, val_y, config)
    strict = fpr_threshold(val_scores, val_y, config.strict_fpr) if config.strict_fpr else None
    lenient = fpr_threshold(val_scores, val_y, config.lenient_fpr) if config.lenient_fpr else None

    say("evaluating on the held-out test split")
    test_scores, test_features = score_chunked(features, classifier, [ex.text for ex in test_rows], config.head_chars,
                                               bool(config.sentence_windows))
    report: dict[str, Any] = {
        "check": config.check_name, "version": config.version, "threshold": threshold,
        "threshold_rule": config.threshold_rule, "sizes": dict(Counter(f"{ex.split}/{ex.label}" for ex in examples)),
        "duplicates_removed": {"exact": getattr(examples, "exact_removed", 0), "near": getattr(examples, "near_removed", 0)},
        "validation": binary_metrics(val_scores, val_y, threshold),
        "test": binary_metrics(test_scores, test_y, threshold),
        **({"strict_threshold": strict, "test_strict": binary_metrics(test_scores, test_y, strict)} if strict else {}),
        **({"lenient_threshold": lenient, "test_lenient": binary_metrics(test_scores, test_y, lenient)} if lenient else {}),
        "test_by_source": _per_group(test_scores, test_rows, threshold, lambda ex: ex.source),
    }

    category_model = None
    if config.check == "harm":
        say("fitting the hazard-category head")
        positives = [ex for ex in examples if ex.split == "train" and ex.label == 1]
        category_model = LogisticRegression(C=config.c, class_weight="balanced", max_iter=5000, random_state=config.seed)
        category_model.fit(features.transform([clip_text(ex.text, config.head_chars) for ex in positives]), [ex.category for ex in positives])
        held = [i for i, ex in enumerate(test_rows) if ex.label == 1]
        predicted = category_model.predict(test_features[held]) if held else []
        report["test_category_accuracy"] = round(float(np.mean([p == test_rows[i].category for p, i in zip(predicted, held)])), 4) if held else None
        report["test_recall_by_category"] = {k: v["recall"] for k, v in _per_group(
            test_scores[held], [test_rows[i] for i in held], threshold, lambda ex: ex.category).items()}

    say("saving the artifact")
    out = artifact_dir(config.check_name, config.version, config.output_root)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out / "model.joblib", compress=3)
    if category_model is not None:
        joblib.dump(category_model, out / "categories.joblib", compress=3)
    elif (out / "categories.joblib").exists():
        (out / "categories.joblib").unlink()
    report["train_seconds"] = round(time.perf_counter() - started, 1)
    manifest = {
        "check": config.check_name, "version": config.version, "threshold": threshold,
        **({"strict_threshold": strict} if strict else {}),
        **({"lenient_threshold": lenient} if lenient else {}),
        "categories": sorted(category_model.classes_.tolist()) if category_model is not None else [],
        "data_fingerprint": fingerprint(examples), "config": config.to_dict(), "preprocessing": _preprocessing(config),
        "libraries": {"scikit-learn": sklearn.__version__, "python": platform.python_version()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    return report


def artifact_is_current(config: GuardrailTrainingConfig) -> bool:
    """Whether the saved artifact was trained with this configuration on the data this checkout
    builds from the installed packages (else it is missing or stale and should be retrained)."""
    folder = artifact_dir(config.check_name, config.version, config.output_root)
    if not (folder / "report.json").exists() or not (folder / "manifest.json").exists():
        return False
    manifest = json.loads((folder / "manifest.json").read_text())
    return (manifest.get("config") == json.loads(json.dumps(config.to_dict()))
            and manifest.get("preprocessing", {}) == _preprocessing(config)
            and manifest.get("data_fingerprint") == fingerprint(DATASETS[config.check](config.seed)))


def _preprocessing(config: GuardrailTrainingConfig) -> dict[str, str]:
    """What the text goes through before the vectorizers, when that is code rather than config."""
    out = {"request_frames": FRAMES_ID} if config.strip_frames else {}
    if config.group_terms:
        out["group_terms"] = GROUP_TERMS_ID
    if config.sentence_windows:
        out["sentence_windows"] = SENTENCE_WINDOWS_ID
    return out


def read_report(check_name: str, version: str = "1", root: Path | None = None) -> dict[str, Any]:
    """The evaluation report saved with an artifact."""
    return json.loads((artifact_dir(check_name, version, root) / "report.json").read_text())


def evaluate_guardrail(check: str, version: str = "1", root: Path | None = None) -> dict[str, Any]:
    """Re-score a saved artifact on its validation and test splits, rebuilt from the packages.

    `data_matches` says whether the labelled data still hashes to what the artifact trained on;
    when it does not, the installed data packages changed and the artifact should be retrained."""
    from ..models.guardrails.artifacts import load_artifact

    artifact = load_artifact(f"{check}.classifier", version, root)
    config = artifact.manifest["config"]
    examples = DATASETS[check](int(config["seed"]))
    features = artifact.pipeline.named_steps["features"]
    classifier = artifact.pipeline.named_steps["classifier"]
    out: dict[str, Any] = {"check": f"{check}.classifier", "version": version, "threshold": artifact.threshold,
                           "data_matches": fingerprint(examples) == artifact.manifest["data_fingerprint"]}
    for split in ("validation", "test"):
        _, labels, rows = _split(examples, split, int(config.get("head_chars", 0)))
        scores, _ = score_chunked(features, classifier, [ex.text for ex in rows], int(config.get("head_chars", 0)),
                                  bool(config.get("sentence_windows", False)))
        out[split] = binary_metrics(scores, labels, artifact.threshold)
        if split == "test":
            out["test_by_source"] = _per_group(scores, rows, artifact.threshold, lambda ex: ex.source)
    return out
