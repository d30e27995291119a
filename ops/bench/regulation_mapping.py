"""How well regulation articles map to pillars: the mapper (`streams/regulation_mapping.py`)
against the hand-labelled articles in `ops/bench/data/regulation_pillars.jsonl` (real text from
the installed regulation database; nothing in the mapper is fitted to these labels).

    python -m raiwatch.ops.bench.regulation_mapping [--json]

top-1: the best pillar is the labelled primary one; top-3: the primary is among the best three;
any-of-top-1: the best pillar is one of the labelled ones. Per law and per primary pillar too.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from importlib import resources

from ..regulation_source import articles


def labelled() -> list[dict]:
    text = (resources.files("raiwatch.ops.bench") / "data" / "regulation_pillars.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


VARIANTS = {"mapping": {}, "embeddings only": {"keyword_weight": 0.0}, "keywords only": {"embeddings": False}}


def evaluate(variant: str = "mapping") -> dict:
    from ...streams.regulation_mapping import RegulationMapper

    mapper, rows = RegulationMapper(**VARIANTS[variant]), labelled()
    hits: dict[str, Counter] = defaultdict(Counter)
    confusions: Counter = Counter()
    for row in rows:
        (article,) = articles(row["celex"], [row["article"]])
        ranked = [p.value for p, _ in mapper.map(f"{article.title}. {article.text}").pillars]
        for group in ("all", f"law:{row['law']}", f"primary:{row['primary']}"):
            hits[group]["n"] += 1
            hits[group]["top1"] += ranked[0] == row["primary"]
            hits[group]["top3"] += row["primary"] in ranked[:3]
            hits[group]["any_top1"] += ranked[0] in row["pillars"]
        if ranked[0] != row["primary"]:
            confusions[(row["primary"], ranked[0])] += 1
    table = {group: {"n": c["n"], "top1": round(c["top1"] / c["n"], 3), "top3": round(c["top3"] / c["n"], 3),
                     "any_of_labels_top1": round(c["any_top1"] / c["n"], 3)} for group, c in sorted(hits.items())}
    return {"variant": variant, "articles": len(rows), "results": table,
            "most_confused": [{"labelled": a, "predicted": b, "count": n} for (a, b), n in confusions.most_common(8)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    rows = labelled()
    majority = Counter(r["primary"] for r in rows).most_common(1)[0]
    result = evaluate()
    ablations = {name: evaluate(name)["results"]["all"] for name in VARIANTS if name != "mapping"}
    result["baselines"] = {**ablations, f"always {majority[0]}": {"top1": round(majority[1] / len(rows), 3)}}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, numbers in result["baselines"].items():
        print(f"baseline {name:<25} " + "  ".join(f"{k} {v}" for k, v in numbers.items()))
    for group, numbers in result["results"].items():
        print(f"{group:<34} n={numbers['n']:<4} top-1 {numbers['top1']:.3f}  top-3 {numbers['top3']:.3f}  "
              f"top-1 in labels {numbers['any_of_labels_top1']:.3f}")
    print("most confused:", ", ".join(f"{c['labelled']}->{c['predicted']} x{c['count']}" for c in result["most_confused"]))


if __name__ == "__main__":
    main()
