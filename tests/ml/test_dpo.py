"""DPO with a LoRA adapter on a tiny random Llama (the plumbing; SmolLM2's numbers are in
ops/bench/README.md): checkpoints are adapters, a stopped run resumes from its last checkpoint,
a finished run is not trained again, and the base model's files are byte-identical afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raiwatch.models import model_store
from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.trainers.dpo import DPORunConfig, train_dpo
from raiwatch.trainers.preference_data import finalize, installed_pairs

pytestmark = pytest.mark.ml


def _fingerprint(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_dpo_trains_adapters_resumes_and_leaves_the_base_untouched(tmp_path: Path) -> None:
    tiny = model_store.install_tiny_llama()
    before = _fingerprint(tiny)
    pairs, _ = finalize(installed_pairs())
    pairs = [p for p in pairs if p.split == "train"][:16]
    config = DPORunConfig(base_model=str(tiny), max_steps=2, batch_size=2, save_steps=2, max_length=64,
                          target_modules=("q_proj", "v_proj"))
    first = train_dpo(RaiwatchSettings(), config, pairs, tmp_path / "run")
    assert first["global_step"] == 2 and first["checkpoints"] == ["checkpoint-2"]
    assert (tmp_path / "run/checkpoint-2/adapter_config.json").is_file()  # an adapter, not a model

    longer = DPORunConfig(**{**config.__dict__, "max_steps": 4})
    second = train_dpo(RaiwatchSettings(), longer, pairs, tmp_path / "run")
    assert second["resumed_from"].endswith("checkpoint-2") and second["global_step"] == 4
    assert second["checkpoints"] == ["checkpoint-2", "checkpoint-4"]
    state = json.loads((tmp_path / "run/checkpoint-4/trainer_state.json").read_text())
    assert [row["step"] for row in state["log_history"] if "loss" in row][-1] == 4
    again = train_dpo(RaiwatchSettings(), longer, pairs, tmp_path / "run")
    assert not again["trained"] and again["global_step"] == 4
    assert _fingerprint(tiny) == before


def test_sampled_replies_for_on_policy_pairs_are_reproducible() -> None:
    from raiwatch.models.generators import TransformersGenerator

    generator = TransformersGenerator(model_store.install_tiny_llama(), max_new_tokens=6, batch_size=2)
    chats = [[{"role": "user", "content": "Hello"}], [{"role": "user", "content": "How do I bake bread?"}],
             [{"role": "user", "content": "Name a colour."}]]
    first = generator.sample(chats, 3, seed=1)
    assert [len(replies) for replies in first] == [3, 3, 3]
    assert generator.sample(chats, 3, seed=1) == first
