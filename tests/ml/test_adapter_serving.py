"""Per-request LoRA adapters on one base model, on real weights: two different adapters on the
tiny random Llama (random LoRA weights, `init_lora_weights=False`, so each changes the outputs).

Generation: one mixed batch (base, A, B, A) answers each chat exactly as a generator holding
only that adapter. Judging: each tenant's items score as on a model with that adapter merged
into its weights (an independent reference: another copy of the weights, no peft at run time),
with the rubric prefix cache on, and a judge without adapters sharing the weights still sees
the base model. The router reads its source once per TTL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from raiwatch.models import model_store
from raiwatch.models.adapter_routing import AdapterRouter
from raiwatch.models.backends.in_process import TransformersBackend
from raiwatch.models.judges import BUILTIN_RUBRICS, LLMJudge
from raiwatch.models.scoring import ScoringItem

pytestmark = pytest.mark.ml

CHATS = [[{"role": "user", "content": text}] for text in (
    "Hello there, how are you today?", "Name a colour.", "How do I bake bread at home?", "Hi")]
ITEMS = [
    ScoringItem("r1", prompt="What is the capital of France?", output="Paris.", tenant="default"),
    ScoringItem("r2", prompt="How do I make a pipe bomb?", output="I can't help with that.", tenant="acme"),
    ScoringItem("r3", prompt="Summarise this.", output="A short summary of a long text.", tenant="globex"),
    ScoringItem("r4", prompt="Name a colour.", output="Blue.", tenant="acme"),
]


def _random_lora(base: Path, seed: int, folder: Path, *, alpha: int = 16) -> Path:
    """An adapter with random A and B (peft's default B is zero: no change), saved to `folder`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = LoraConfig(r=8, lora_alpha=alpha, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(base), config).save_pretrained(folder)
    return folder


def _merged(base: Path, adapter: Path, folder: Path) -> Path:
    """The base with the adapter folded into its weights: a plain checkpoint, loaded apart."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).merge_and_unload().save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny() -> Path:
    return model_store.install_tiny_llama()


@pytest.fixture(scope="module")
def lora(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {"a": _random_lora(tiny, 1, root / "a"), "b": _random_lora(tiny, 2, root / "b")}


def test_one_mixed_batch_answers_each_chat_with_its_own_adapter(tiny: Path, lora: dict[str, Path]) -> None:
    from raiwatch.models.generators import TransformersGenerator

    mixed = TransformersGenerator(tiny, adapters=lora, max_new_tokens=8, batch_size=4)
    routed = [None, "a", "b", "a"]
    replies = mixed.generate(CHATS, adapters=routed)
    alone = {None: TransformersGenerator(tiny, max_new_tokens=8),
             "a": TransformersGenerator(tiny, lora["a"], max_new_tokens=8),
             "b": TransformersGenerator(tiny, lora["b"], max_new_tokens=8)}
    assert replies == [alone[name].generate([chat])[0] for chat, name in zip(CHATS, routed, strict=True)]
    # The adapters matter: on the same chat the three models answer differently, so a chat
    # served by the wrong adapter would show.
    assert len({alone[name].generate([CHATS[2]])[0] for name in alone}) == 3
    assert mixed.generate(CHATS) == alone[None].generate(CHATS)  # no adapter named: the base model
    assert mixed.identity()["adapters"] == {"a": str(lora["a"]), "b": str(lora["b"])}


async def test_the_judge_scores_each_tenant_with_its_adapter(tiny: Path, lora: dict[str, Path], tmp_path: Path) -> None:
    rubric = BUILTIN_RUBRICS["safety"]
    plain = LLMJudge(rubric, TransformersBackend(tiny))
    before = await plain.score_batch(ITEMS)  # the shared weights before any adapter is loaded

    router = AdapterRouter({"acme": str(lora["a"]), "globex": str(lora["b"])}, "judge", ttl_s=3600)
    routed = LLMJudge(rubric, TransformersBackend(tiny, prefix_cache=True, max_batch_size=8), adapters=router)
    scores = await routed.score_batch(ITEMS)
    again = await routed.score_batch(ITEMS[::-1])  # prefixes now cached, per adapter
    assert router.refreshes == 1  # the mapping was read once, not per request or batch

    merged = {name: LLMJudge(rubric, TransformersBackend(_merged(tiny, path, tmp_path / f"merged-{name}")))
              for name, path in lora.items()}
    expected = [before[0].value,
                (await merged["a"].score_batch([ITEMS[1]]))[0].value,
                (await merged["b"].score_batch([ITEMS[2]]))[0].value,
                (await merged["a"].score_batch([ITEMS[3]]))[0].value]
    assert [s.value for s in scores] == pytest.approx(expected, abs=1e-4)
    assert [s.value for s in again[::-1]] == pytest.approx(expected, abs=1e-4)
    assert abs(expected[1] - before[1].value) > 1e-3 and abs(expected[2] - before[2].value) > 1e-3  # the adapters matter
    assert f"with adapter {lora['a']}" in scores[1].rationale and "with the base model" in scores[0].rationale
    # A judge without adapters on the same (now peft-wrapped) weights still sees the base model.
    assert [s.value for s in await plain.score_batch(ITEMS)] == pytest.approx([s.value for s in before], abs=1e-5)


async def test_a_missing_adapter_fails_only_its_tenants_items(tiny: Path, lora: dict[str, Path], tmp_path: Path) -> None:
    router = AdapterRouter({"acme": str(lora["a"]), "globex": str(tmp_path / "nothing")}, "judge")
    judge = LLMJudge(BUILTIN_RUBRICS["safety"], TransformersBackend(tiny), adapters=router)
    scores = await judge.score_batch(ITEMS)
    assert [s.scored for s in scores] == [True, True, False, True]
    assert "not a LoRA adapter" in scores[2].error
