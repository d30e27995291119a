"""DPO with a LoRA adapter (trl `DPOTrainer` + peft): the base model's weights are never changed;
what training produces is an adapter per checkpoint (`<output_dir>/checkpoint-<step>/`), which
checkpoint selection (`checkpoint_selection.py`) evaluates and chooses from.

With a peft config the trainer needs no second model: the reference log-probabilities are the
base model's, computed with the adapter switched off. A run started again on the same output
folder resumes from its last checkpoint (optimizer and scheduler included); a finished run is
not trained again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..ops.settings import RaiwatchSettings
from .preference_data import PreferencePair

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class DPORunConfig:
    """One DPO run. The defaults fit SmolLM2-135M on a CPU in minutes."""

    base_model: str = "smollm2-135m-instruct"
    max_steps: int = 60  # 40 steps: harmful compliance -50% relative; 60: -65% (ops/bench/README.md, third round)
    batch_size: int = 4
    learning_rate: float = 1e-3  # LoRA on SmolLM2: 2e-4 moved no greedy reply in 60 steps (ops/bench/README.md)
    beta: float = 0.1
    sft_weight: float = 1.0  # plus the chosen replies' language-model loss (trl loss_type ["sigmoid", "sft"]); 0: DPO only
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = TARGET_MODULES
    max_length: int = 320
    save_steps: int = 20
    probe_every: int = 0  # 0: no probes during training
    seed: int = 0
    splits: tuple[str, ...] = ("train", "validation")
    balance: bool = True  # repeat the benign pairs until they match the harmful ones (over-refusal)
    extra: dict[str, Any] = field(default_factory=dict)  # DPOConfig overrides


def conversational(pair: PreferencePair) -> dict[str, list[dict[str, str]]]:
    """trl's conversational preference format: the model's chat template is applied by trl."""
    return {"prompt": [{"role": "user", "content": pair.prompt}],
            "chosen": [{"role": "assistant", "content": pair.chosen}],
            "rejected": [{"role": "assistant", "content": pair.rejected}]}


def loss_options(config: DPORunConfig) -> dict[str, Any]:
    """DPO's sigmoid loss, plus the SFT loss on the chosen replies when `sft_weight` > 0: with
    DPO alone the adapter separated the pairs (loss 0.007) while no greedy reply changed; the SFT
    term makes the chosen refusals and answers likely, not only likelier than the rejected."""
    if config.sft_weight <= 0:
        return {"loss_type": ["sigmoid"]}
    return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, config.sft_weight]}


def balanced(pairs: Sequence[PreferencePair]) -> list[PreferencePair]:
    """The pairs with the benign ones repeated (in order, round robin) until there are as many
    as harmful ones. Measured: trained on ~2 harmful pairs per benign one, SmolLM2 learned to
    refuse edgy but benign questions too (over-refusal 6.7% -> 20%, `ops/bench/README.md`)."""
    harmful = sum(p.kind == "harmful" for p in pairs)
    benign = [p for p in pairs if p.kind == "benign"]
    extra = [benign[i % len(benign)] for i in range(max(0, harmful - len(benign)))] if benign else []
    return [*pairs, *extra]


def last_checkpoint(output_dir: Path) -> Path | None:
    steps = [(int(p.name.split("-")[1]), p) for p in output_dir.glob("checkpoint-*")
             if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(steps)[1] if steps else None


def train_dpo(settings: RaiwatchSettings, config: DPORunConfig, pairs: Sequence[PreferencePair], output_dir: Path,
              *, resume: bool = True, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) and return a summary: steps, checkpoints, the last log entries."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from ..models.model_store import resolve_model
    from .checkpoint_selection import EvalProbeCallback

    output_dir.mkdir(parents=True, exist_ok=True)
    base = resolve_model(config.base_model, settings.model_path)
    chosen = [p for p in pairs if p.split in config.splits]
    rows = [conversational(p) for p in (balanced(chosen) if config.balance else chosen)]
    if not rows:
        raise ValueError("no preference pairs in the training splits")
    (output_dir / "raiwatch-run.json").write_text(json.dumps({**asdict(config), "base_path": str(base),
                                                              "pairs": len(rows)}, indent=2, default=str))
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base)
    args = DPOConfig(
        output_dir=str(output_dir), max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, beta=config.beta, max_length=config.max_length,
        save_steps=config.save_steps, save_strategy="steps", logging_steps=max(1, config.save_steps // 4),
        report_to=[], seed=config.seed, use_cpu=not torch.cuda.is_available(), lr_scheduler_type="constant",
        warmup_steps=0, **{**loss_options(config), **config.extra})
    callbacks = [*callbacks, *([EvalProbeCallback(settings, every_steps=config.probe_every)] if config.probe_every else [])]
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        peft_config=LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                               target_modules=list(config.target_modules), task_type="CAUSAL_LM"),
        callbacks=callbacks)
    start = last_checkpoint(output_dir) if resume else None
    if start is not None and json.loads((start / "trainer_state.json").read_text())["global_step"] >= config.max_steps:
        return _summary(output_dir, resumed_from=start, trained=False)
    trainer.train(resume_from_checkpoint=str(start) if start else None)
    if last_checkpoint(output_dir) is None or json.loads(
            (last_checkpoint(output_dir) / "trainer_state.json").read_text())["global_step"] < config.max_steps:
        trainer.save_model(str(output_dir / f"checkpoint-{config.max_steps}"))
        trainer.state.save_to_json(str(output_dir / f"checkpoint-{config.max_steps}" / "trainer_state.json"))
    return _summary(output_dir, resumed_from=start, trained=True)


def _summary(output_dir: Path, resumed_from: Path | None, trained: bool) -> dict[str, Any]:
    last = last_checkpoint(output_dir)
    state = json.loads((last / "trainer_state.json").read_text()) if last else {}
    return {"output_dir": str(output_dir), "trained": trained,
            "resumed_from": str(resumed_from) if resumed_from else "",
            "global_step": state.get("global_step", 0),
            "checkpoints": sorted(p.name for p in output_dir.glob("checkpoint-*")),
            "log": [row for row in state.get("log_history", []) if "loss" in row][-3:]}
