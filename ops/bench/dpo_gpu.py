"""DPO step time with LoRA on a Llama-3.2-1B-shaped model: the retraining path
(`trainers/dpo.py`: trl DPOTrainer + peft, the installed preference pairs) timed per optimizer
step, for a GPU when one is lent.

    python -m raiwatch.ops.bench.dpo_gpu [--steps 20] [--batch-size 8] [--max-length 320] [--tiny]

Prints JSON: device, shape, pairs, the wall time of each step after the first two (warm-up:
allocation, kernel selection), their median and mean, tokens per step and peak GPU memory.

The model has Llama-3.2-1B's shape and random weights (`judge_gpu.build_model`, seed 0): step
time depends on the shape, not on the weights, and nothing is downloaded. bf16 on a GPU, float32
on a CPU; `--tiny` swaps in a 2-layer, hidden-64 shape so the script is checked on a CPU in
seconds (tests/ml/test_judge_gpu_bench.py runs it so).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .judge_gpu import LLAMA_3_2_1B, TINY, build_model


def run(steps: int, batch_size: int, max_length: int, tiny: bool) -> dict[str, Any]:
    import torch
    from transformers import TrainerCallback

    from ...ops.settings import RaiwatchSettings
    from ...trainers.dpo import DPORunConfig, train_dpo
    from ...trainers.preference_data import finalize, installed_pairs

    device = "cuda" if torch.cuda.is_available() else "cpu"
    shape = TINY if tiny else LLAMA_3_2_1B
    step_times: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            step_times.append(time.perf_counter() - self.started)

    work = Path(tempfile.mkdtemp(prefix="raiwatch-dpo-gpu-"))
    model_dir = build_model(work / "model", shape, device)
    pairs, version = finalize(installed_pairs())
    extra: dict[str, Any] = {"bf16": True} if device == "cuda" else {}
    config = DPORunConfig(base_model=str(model_dir), max_steps=steps, batch_size=batch_size, max_length=max_length,
                          save_steps=steps, extra=extra)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    train_dpo(RaiwatchSettings(), config, pairs, work / "run", resume=False, callbacks=[StepClock()])
    total = time.perf_counter() - started
    timed = step_times[2:] or step_times
    return {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        "shape": "tiny" if tiny else "Llama-3.2-1B (random weights)", "dtype": "bf16" if device == "cuda" else "float32",
        "pairs": len(pairs), "data_version": version, "steps": steps, "batch_size": batch_size,
        "max_length": max_length, "lora": {"r": config.lora_r, "targets": list(config.target_modules)},
        "step_s": {"median": round(statistics.median(timed), 4), "mean": round(statistics.fmean(timed), 4),
                   "all": [round(t, 4) for t in step_times]},
        "total_s": round(total, 1),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=320)
    parser.add_argument("--tiny", action="store_true", help="A 2-layer, hidden-64 shape (checks the script on a CPU).")
    args = parser.parse_args()
    print(json.dumps(run(args.steps, args.batch_size, args.max_length, args.tiny), indent=2))


if __name__ == "__main__":
    main()
