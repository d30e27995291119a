"""Near-duplicate merging of incident reports: the threshold chosen on one generated stream,
precision and recall measured on another (different seed), with the stage's own similarity
(`streams/incidents.py`: word-3-gram Jaccard against the category's earlier originals).

    python -m raiwatch.ops.bench.incident_dedup [--count 2000] [--json]

A pair counts as a true merge when the report is a generated repost and it was merged into an
original of its own thread (its original, or an earlier repost's original).
"""

from __future__ import annotations

import argparse
import json

from ..incident_stream import generate_incidents

THRESHOLDS = [round(0.2 + 0.05 * i, 2) for i in range(15)]


def _run(items: list, threshold: float) -> dict:
    from ...streams.incident_classify import classify_incident
    from ...streams.incidents import closest_original, incident_shingles

    recent: dict[str, list] = {}
    root = {}  # generated original of each report
    tp = fp = fn = 0
    for item in items:
        event = item.event
        root[event.event_id] = root.get(item.original, item.original) or event.event_id
        _, category = classify_incident(event.text, event.example_prompt)
        grams = incident_shingles(event)
        match, score = closest_original(grams, recent.get(category, []))
        merged = score >= threshold
        truth = bool(item.original)
        if merged and truth and root.get(match) == root[event.event_id]:
            tp += 1
        elif merged:
            fp += 1
        elif truth:
            fn += 1
        if not merged:
            recent.setdefault(category, []).append([event.event_id, 0, sorted(grams)])
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "merged": tp + fp, "reposts": tp + fn}


def evaluate(count: int = 2000, validation_seed: int = 101, test_seed: int = 202) -> dict:
    validation = generate_incidents(count, seed=validation_seed)
    sweep = [_run(validation, t) for t in THRESHOLDS]
    chosen = max(sweep, key=lambda r: (r["f1"], r["threshold"]))
    test = generate_incidents(count, seed=test_seed)
    return {"count": count, "validation_seed": validation_seed, "test_seed": test_seed,
            "chosen_threshold": chosen["threshold"], "validation": chosen, "test": _run(test, chosen["threshold"]),
            "validation_sweep": sweep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = evaluate(args.count)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in result["validation_sweep"]:
        print(f"validation t={row['threshold']:.2f}  P {row['precision']:.3f}  R {row['recall']:.3f}  F1 {row['f1']:.3f}")
    test = result["test"]
    print(f"chosen t={result['chosen_threshold']:.2f} on validation; test: P {test['precision']:.3f}  "
          f"R {test['recall']:.3f}  F1 {test['f1']:.3f} ({test['reposts']} reposts)")


if __name__ == "__main__":
    main()
