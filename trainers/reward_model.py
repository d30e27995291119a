"""The auxiliary reward model: a sequence-classification head on a small causal LM with a LoRA
adapter (trl `RewardTrainer` + peft), trained on ranked outputs (the preference pairs: the
chosen reply should score higher than the rejected one). It is a scorer like every guardrail
and judge (`models/reward_scorer.py`), and ranks sampled replies into on-policy pairs.

Held-out pairwise accuracy (the share of test-split pairs where the chosen reply scores higher)
is measured after training and stored with the adapter (`raiwatch-reward.json`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..ops.settings import RaiwatchSettings
from .preference_data import PreferencePair

MARKER = "raiwatch-reward.json"


@dataclass(frozen=True)
class RewardRunConfig:
    base_model: str = "smollm2-135m-instruct"
    max_steps: int = 60
    batch_size: int = 8
    learning_rate: float = 2e-4
    lora_r: int = 16
    lora_alpha: int = 32
    max_length: int = 512  # longer pairs are left out by the trainer
    seed: int = 0


def chat(prompt: str, reply: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]


def train_reward(settings: RaiwatchSettings, config: RewardRunConfig, pairs: Sequence[PreferencePair],
                 output_dir: Path) -> dict[str, Any]:
    """Train, save the adapter to `output_dir`, measure held-out pairwise accuracy."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from ..models.model_store import resolve_model
    from ..models.reward_scorer import RewardModel

    base = resolve_model(config.base_model, settings.model_path)
    train = [{"chosen": chat(p.prompt, p.chosen), "rejected": chat(p.prompt, p.rejected)}
             for p in pairs if p.split in ("train", "validation")]
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    args = RewardConfig(output_dir=str(output_dir / "trainer"), max_steps=config.max_steps,
                        per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate,
                        max_length=config.max_length, report_to=[], seed=config.seed, save_strategy="no",
                        logging_steps=max(1, config.max_steps // 6), use_cpu=not torch.cuda.is_available())
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(train), processing_class=tokenizer,
                            peft_config=LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, task_type="SEQ_CLS",
                                                   target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    trainer.train()
    trainer.model.save_pretrained(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    held_out = [p for p in pairs if p.split == "test"]
    scorer = RewardModel(base, output_dir, max_length=config.max_length)
    chosen = scorer.rewards([(p.prompt, p.chosen) for p in held_out])
    rejected = scorer.rewards([(p.prompt, p.rejected) for p in held_out])
    accuracy = sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(held_out) if held_out else float("nan")
    summary = {**asdict(config), "base_path": str(base), "train_pairs": len(train), "held_out_pairs": len(held_out),
               "held_out_pairwise_accuracy": accuracy,
               "loss": [row["loss"] for row in trainer.state.log_history if "loss" in row][-1:]}
    (output_dir / MARKER).write_text(json.dumps(summary, indent=2))
    return summary
