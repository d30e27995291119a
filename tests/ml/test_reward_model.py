"""The auxiliary reward model on a tiny random Llama (the plumbing; SmolLM2's held-out accuracy
is in ops/bench/README.md): trained with LoRA on the preference pairs, its held-out pairwise
accuracy measured and stored, and the `reward.model` check keeps the scoring contract."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from raiwatch.models import create_check, model_store
from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.trainers.preference_data import finalize, installed_pairs
from raiwatch.trainers.reward_model import RewardRunConfig, train_reward

from ..scorer_contract import AWKWARD, assert_scorer_contract

pytestmark = pytest.mark.ml


def test_reward_model_trains_measures_and_scores(tmp_path: Path) -> None:
    tiny = model_store.install_tiny_llama()
    pairs, _ = finalize(installed_pairs())
    pairs = [p for p in pairs if p.split == "train"][:16] + [p for p in pairs if p.split == "test"][:12]
    summary = train_reward(RaiwatchSettings(), RewardRunConfig(base_model=str(tiny), max_steps=3, batch_size=4,
                                                               max_length=512), pairs, tmp_path / "reward")
    assert summary["held_out_pairs"] == 12 and 0.0 <= summary["held_out_pairwise_accuracy"] <= 1.0
    stored = json.loads((tmp_path / "reward/raiwatch-reward.json").read_text())
    assert stored["held_out_pairwise_accuracy"] == summary["held_out_pairwise_accuracy"]
    check = create_check("reward.model", adapter=str(tmp_path / "reward"), base=str(tiny))
    assert check.check_id.startswith("reward.model@1{")
    scores = assert_scorer_contract(check)
    assert scores[3].value is None and "no reply" in scores[3].error  # nothing to score
    broken = create_check("reward.model", adapter=str(tmp_path / "missing"), base=str(tiny))
    (result,) = asyncio.run(broken.score_batch([AWKWARD[0]]))  # the interface: unscored, with the reason
    assert result.value is None and "not a reward adapter" in result.error
