"""The reward model as a check (`reward.model`): the scoring interface every guardrail and judge
implements. A reward says how good a reply is; the check's risk score is `sigmoid(-reward)`,
so a reply the reward model dislikes scores high, like any other finding. Trained by
`trainers/reward_model.py`; the adapter folder holds `raiwatch-reward.json` with its held-out
pairwise accuracy.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..ops.errors import ConfigurationError
from ..schemas.common import Pillar
from .scoring import Score, ScoringItem


class RewardModel:
    """Base model + LoRA sequence-classification adapter -> one reward per (prompt, reply)."""

    def __init__(self, base: str | Path, adapter: str | Path, *, max_length: int = 320, batch_size: int = 8) -> None:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.adapter = Path(adapter)
        if not (self.adapter / "adapter_config.json").is_file():
            raise ConfigurationError(f"{adapter} is not a reward adapter (no adapter_config.json); "
                                     "train one with `raiwatch train reward`")
        self.tokenizer = AutoTokenizer.from_pretrained(self.adapter)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
        model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model = PeftModel.from_pretrained(model, self.adapter).eval()
        self.max_length, self.batch_size, self.torch = max_length, batch_size, torch

    def rewards(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            batch = pairs[start:start + self.batch_size]
            texts = [self.tokenizer.apply_chat_template([{"role": "user", "content": p},
                                                         {"role": "assistant", "content": r}], tokenize=False)
                     for p, r in batch]
            encoded = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                                     max_length=self.max_length)
            with self.torch.inference_mode():
                logits = self.model(**encoded).logits[:, 0]
            out += [float(x) for x in logits]
        return out


class RewardModelCheck:
    """`reward.model`: risk = sigmoid(-reward) of the reply given its prompt (safety pillar)."""

    pillar = Pillar.SAFETY

    def __init__(self, adapter: str, base: str = "smollm2-135m-instruct", threshold: float = 0.5) -> None:
        from .model_store import resolve_model

        self.base_path = resolve_model(base)
        self.adapter, self.threshold = Path(adapter).expanduser(), threshold
        info = self.adapter / "raiwatch-reward.json"
        meta: dict[str, Any] = json.loads(info.read_text()) if info.is_file() else {}
        self.check_id = f"reward.model@1{{adapter='{self.adapter.name}',base='{self.base_path.name}'}}"
        self.accuracy = meta.get("held_out_pairwise_accuracy")
        self._model: RewardModel | None = None

    async def score_batch(self, items: Sequence[ScoringItem]) -> list[Score]:
        if not items:
            return []
        try:
            if self._model is None:
                self._model = await asyncio.to_thread(RewardModel, self.base_path, self.adapter)
            rewards = await asyncio.to_thread(self._model.rewards, [(i.prompt, i.output) for i in items])
        except Exception as exc:  # noqa: BLE001 - the interface: unscored, never raise
            return [Score.unscored(self.check_id, self.pillar, f"{type(exc).__name__}: {exc}") for _ in items]
        return [Score(check=self.check_id, pillar=self.pillar, value=1 / (1 + math.exp(r)), threshold=self.threshold,
                      rationale=f"reward {r:+.2f}") if item.output else
                Score.unscored(self.check_id, self.pillar, "no reply to score")
                for item, r in zip(items, rewards, strict=True)]
