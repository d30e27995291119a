"""The checkpoint probes in a real transformers Trainer run (a tiny random Llama, a few steps):
every `every_steps` steps the model in training answers the probe prompts, and the scored rates
reach the trainer's log history and `probes.jsonl`; training carries on in train mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raiwatch.models import model_store
from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.trainers.checkpoint_selection import EvalProbeCallback

pytestmark = pytest.mark.ml


def test_probes_run_inside_a_trainer(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    path = model_store.install_tiny_llama()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    texts = ["The capital of France is Paris.", "Water boils at 100 degrees Celsius."] * 4
    encoded = [tokenizer(t, truncation=True, max_length=16) for t in texts]
    dataset = [{"input_ids": e["input_ids"], "attention_mask": e["attention_mask"], "labels": e["input_ids"]}
               for e in encoded]

    def collate(rows):
        width = max(len(r["input_ids"]) for r in rows)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        return {key: torch.tensor([r[key] + [pad if key != "labels" else -100] * (width - len(r[key])) for r in rows])
                for key in ("input_ids", "attention_mask", "labels")}

    probe = EvalProbeCallback(RaiwatchSettings(), every_steps=2, per_suite=2, max_new_tokens=8)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=4, per_device_train_batch_size=2, report_to=[],
                             save_strategy="no", logging_steps=1, use_cpu=True)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate, processing_class=tokenizer,
                      callbacks=[probe])
    trainer.train()
    assert [row["step"] for row in probe.history] == [2, 4]
    assert all(row["probe/n"] == 4 and 0.0 <= row["probe/harmful_compliance_rate"] <= 1.0 for row in probe.history)
    logged = [row for row in trainer.state.log_history if "probe/over_refusal_rate" in row]
    assert [row["step"] for row in logged] == [2, 4]
    lines = [json.loads(line) for line in (tmp_path / "probes.jsonl").read_text().splitlines()]
    assert lines == probe.history
    assert model.training  # handed back in train mode
