"""In-process judge backend on transformers: one batched forward pass, no generation loop.

Any causal LM directory works (a converted SmolLM2, Llama Guard, Qwen3Guard...). Chats are
rendered with the model's own chat template, left-padded into one batch (so the last position
of every row is its answer position), and only the last position's logits are computed. Because
the whole vocabulary is visible, every token that starts an answer word is returned, so the
answer probabilities are exact rather than read from a top-k list.

The rubric (system message) is the same in every call: its KV cache is computed once per
rubric and adapter and reused (`prefix_cache`), so each item costs only its own tokens — the
in-process counterpart of vLLM's prefix caching.

Adapters: a request naming one (`JudgeRequest.adapter`) runs with that LoRA adapter on the
shared base model. Each adapter folder is loaded once per process with peft, a batch runs group
by group (`set_adapter`), and the base model's requests run with the LoRA layers off
(`disable_adapter()`), so judges without adapters that share the weights see the base model.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import JudgeBackend, JudgeCompletion, JudgeRequest, RetryPolicy, TokenLogprob
from .exceptions import BackendError, BackendNotInstalledError


MIN_PREFIX_TOKENS = 32
"""Shorter shared prefixes are recomputed: copying their cache costs about what it saves."""
MAX_CACHED_PREFIXES = 8
"""Rubric prefixes kept per backend (one per rubric and adapter in use)."""


class SharedModel:
    """One copy of a model's weights in the process, shared by the judges of several rubrics.

    Once any of them needs an adapter, peft wraps the model (its LoRA layers go into the model
    itself), so from then on every forward pass runs inside `serving(adapter)`: the adapter
    active, or (None) the LoRA layers off, which is exactly the base model.
    """

    def __init__(self, tokenizer: Any, model: Any, vocab_text: list[str], device: str) -> None:
        self.tokenizer, self.model, self.vocab_text, self.device = tokenizer, model, vocab_text, device
        self.peft: Any = None
        self.loaded: dict[str, str] = {}
        """Resolved adapter folder -> peft's name for it."""
        # One adapter is active at a time: choosing it and the forward pass go together.
        self.lock = threading.RLock()

    def adapter(self, path: str) -> str:
        """peft's name for the adapter at `path`, loading it on first use."""
        folder = Path(path).expanduser().resolve()
        key = str(folder)
        with self.lock:
            if key not in self.loaded:
                if not (folder / "adapter_config.json").is_file():
                    raise BackendError(f"{path} is not a LoRA adapter (no adapter_config.json)")
                from peft import PeftModel

                name = f"adapter{len(self.loaded) + 1}"
                if self.peft is None:
                    self.peft = PeftModel.from_pretrained(self.model, key, adapter_name=name, torch_device=self.device)
                    self.peft.eval()
                else:
                    self.peft.load_adapter(key, adapter_name=name, torch_device=self.device)
                self.loaded[key] = name
            return self.loaded[key]

    @contextlib.contextmanager
    def serving(self, adapter: str | None) -> Iterator[None]:
        """`self.model` answers with peft's adapter `adapter` (None: the base model)."""
        with self.lock:
            if self.peft is None:
                yield
            elif adapter is None:
                with self.peft.disable_adapter():
                    yield
            else:
                self.peft.set_adapter(adapter)
                yield


# Judges of several rubrics on one model share one copy of the weights in a process.
_SHARED: dict[tuple[str, str, str], SharedModel] = {}
_SHARED_LOCK = threading.Lock()


def _option_index(text: str, answers: Sequence[str]) -> int | None:
    # Same rule as judges.answer.option_for_token; kept here so backends do not import judges.
    text = text.replace("\u2581", " ").replace("\u0120", " ").strip().lower()
    if not text:
        return None
    hits = [i for i, label in enumerate(answers) if label.startswith(text)]
    return hits[0] if len(hits) == 1 else None


class TransformersBackend(JudgeBackend):
    """Batched next-token log-probabilities from a local causal LM (CPU, or GPU when present)."""

    name = "transformers"

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        max_batch_size: int = 16,
        top_k: int = 5,
        max_prompt_tokens: int = 4096,
        prefix_cache: bool = True,
        adapters: Mapping[str, str | Path] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(retry=retry, max_connections=1, adapters=adapters)
        self.model_path = Path(model_path).expanduser()
        self.device = device
        self.dtype = dtype
        self.max_batch_size = max_batch_size
        self.top_k = top_k
        self.max_prompt_tokens = max_prompt_tokens
        self._model: Any = None
        self._tokenizer: Any = None
        self._shared: SharedModel | None = None
        self._vocab_text: list[str] = []
        self._answer_ids: dict[tuple[str, ...], list[int]] = {}
        self.prefix_cache = prefix_cache
        self._system_ids: dict[str, list[int]] = {}
        # Keyed by (peft adapter name or None, prefix tokens): an adapter changes the KV cache.
        self._prefixes: OrderedDict[tuple[str | None, tuple[int, ...]], Any] = OrderedDict()
        # One forward pass at a time: torch already uses every core, and the model is shared.
        self._lock = asyncio.Lock()
        self.load_seconds: float | None = None

    def identity(self) -> dict[str, Any]:
        from ..model_store import model_fingerprint

        return {"backend": self.name, "model": self.model_path.name, "weights": model_fingerprint(self.model_path)}

    async def load(self) -> None:
        async with self._lock:
            if self._model is None:
                await asyncio.to_thread(self._load_sync)

    def _load_sync(self) -> None:
        started = time.perf_counter()
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BackendNotInstalledError(
                "the transformers judge backend needs the ML extra: pip install 'raiwatch[ml]'"
            ) from exc
        if not (self.model_path / "config.json").is_file():
            raise BackendError(f"no model at {self.model_path} (config.json missing); see `raiwatch models install`")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        # bf16 on GPUs; float32 on CPUs, where bf16 matmuls are slow without AMX.
        dtype = getattr(torch, self.dtype) if self.dtype else (torch.bfloat16 if device.startswith("cuda") else torch.float32)
        key = (str(self.model_path.resolve()), device, str(dtype))
        with _SHARED_LOCK:
            if key not in _SHARED:
                tokenizer = AutoTokenizer.from_pretrained(self.model_path)
                tokenizer.padding_side = "left"
                if tokenizer.pad_token is None:
                    tokenizer.pad_token = tokenizer.eos_token
                if getattr(tokenizer, "chat_template", None) is None:
                    raise BackendError(f"the tokenizer at {self.model_path} has no chat template")
                model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=dtype).to(device).eval()
                pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
                vocab_text = [tokenizer.convert_tokens_to_string([piece]) for piece in pieces]
                _SHARED[key] = SharedModel(tokenizer, model, vocab_text, device)
            shared = _SHARED[key]
        self._shared, self._vocab_text = shared, shared.vocab_text
        self._tokenizer, self._model, self.device = shared.tokenizer, shared.model, device
        self.load_seconds = time.perf_counter() - started

    def _ids_for(self, answers: tuple[str, ...]) -> list[int]:
        if answers not in self._answer_ids:
            self._answer_ids[answers] = [
                i for i, text in enumerate(self._vocab_text) if _option_index(text, answers) is not None
            ]
        return self._answer_ids[answers]

    async def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeCompletion]:
        if not requests:
            return []
        await self.load()
        async with self._lock:
            return await asyncio.to_thread(self._generate_sync, list(requests))

    def _generate_sync(self, requests: list[JudgeRequest]) -> list[JudgeCompletion]:
        tokenizer = self._tokenizer
        prompts = [
            tokenizer.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True)
            for r in requests
        ]
        encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        results: list[JudgeCompletion | None] = [None] * len(requests)
        runnable = []
        for i, ids in enumerate(encoded):
            if len(ids) > self.max_prompt_tokens:
                results[i] = JudgeCompletion(error=f"prompt has {len(ids)} tokens > max_prompt_tokens={self.max_prompt_tokens}")
            else:
                runnable.append(i)
        groups: dict[str | None, list[int]] = {}
        for i in runnable:
            groups.setdefault(requests[i].adapter, []).append(i)
        for adapter, members in groups.items():
            try:
                peft_name = self._peft_name(adapter)
            except Exception as exc:  # noqa: BLE001 - a bad adapter fails its own requests only
                for i in members:
                    results[i] = JudgeCompletion(error=f"adapter {adapter!r}: {type(exc).__name__}: {exc}")
                continue
            # Similar lengths share a batch, so left padding wastes little compute.
            members.sort(key=lambda i: len(encoded[i]))
            assert self._shared is not None
            with self._shared.serving(peft_name):
                for start in range(0, len(members), self.max_batch_size):
                    chunk = members[start : start + self.max_batch_size]
                    completions = self._forward([encoded[i] for i in chunk], [requests[i] for i in chunk], peft_name)
                    for i, completion in zip(chunk, completions, strict=True):
                        results[i] = completion
        return [r if r is not None else JudgeCompletion(error="not run") for r in results]

    def _peft_name(self, adapter: str | None) -> str | None:
        if adapter is None:
            return None
        if adapter not in self.adapters:
            raise BackendError(f"unknown adapter; added: {', '.join(sorted(self.adapters)) or 'none'}")
        assert self._shared is not None
        return self._shared.adapter(self.adapters[adapter])

    def _shared_prefix(self, batch_ids: list[list[int]], requests: list[JudgeRequest]) -> int:
        """Length of the rubric prefix every row starts with (0 when too short to be worth it).

        The prefix is what the chat template renders for the system message alone, cut to the
        tokens every row shares; at most each row's length - 1, so every row keeps one new token.
        """
        if not self.prefix_cache or not requests[0].messages:
            return 0
        system = requests[0].messages[0]
        key = f"{system.get('role')}\x00{system.get('content')}"
        if key not in self._system_ids:
            rendered = self._tokenizer.apply_chat_template([dict(system)], tokenize=False, add_generation_prompt=False)
            self._system_ids[key] = self._tokenizer(rendered, add_special_tokens=False)["input_ids"]
        reference = self._system_ids[key]
        length = min([len(reference)] + [len(ids) - 1 for ids in batch_ids])
        for ids in batch_ids:
            n = 0
            while n < length and ids[n] == reference[n]:
                n += 1
            length = n
        return length if length >= MIN_PREFIX_TOKENS else 0

    def _prefix_state(self, prefix: tuple[int, ...], adapter: str | None) -> Any:
        """The prefix's KV cache under `adapter` (called with that adapter serving)."""
        import torch

        key = (adapter, prefix)
        if key not in self._prefixes:
            ids = torch.tensor([list(prefix)], device=self.device)
            with torch.inference_mode():
                out = self._model(input_ids=ids, use_cache=True, logits_to_keep=1)
            self._prefixes[key] = out.past_key_values
            while len(self._prefixes) > MAX_CACHED_PREFIXES:
                self._prefixes.popitem(last=False)
        self._prefixes.move_to_end(key)
        return self._prefixes[key]

    def _forward(self, batch_ids: list[list[int]], requests: list[JudgeRequest],
                 adapter: str | None = None) -> list[JudgeCompletion]:
        import torch

        started = time.perf_counter()
        pad = self._tokenizer.pad_token_id
        prefix_len = self._shared_prefix(batch_ids, requests)
        rows = [ids[prefix_len:] for ids in batch_ids]
        width = max(len(ids) for ids in rows)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in rows], device=self.device)
        # Positions count real tokens only, so a left-padded row sees the same positions as alone.
        positions = prefix_len + (mask.cumsum(-1) - 1).clamp(min=0)
        past = None
        if prefix_len:
            # The rubric's KV cache is computed once and copied per batch: the forward pass
            # appends to it. Padding sits between the prefix and each row's own tokens.
            past = copy.deepcopy(self._prefix_state(tuple(batch_ids[0][:prefix_len]), adapter))
            past.batch_repeat_interleave(len(rows))
            mask = torch.cat([torch.ones(len(rows), prefix_len, dtype=mask.dtype, device=self.device), mask], dim=1)
        with torch.inference_mode():
            logits = self._model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions,
                past_key_values=past, use_cache=past is not None, logits_to_keep=1,
            ).logits[:, -1, :]
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
        elapsed = time.perf_counter() - started
        completions = []
        for row, request, ids in zip(logprobs, requests, batch_ids, strict=True):
            top = torch.topk(row, self.top_k)
            chosen = dict.fromkeys(top.indices.tolist())
            chosen.update(dict.fromkeys(self._ids_for(tuple(request.answers))))
            candidates = tuple(TokenLogprob(self._vocab_text[i], float(row[i])) for i in chosen)
            completions.append(
                JudgeCompletion(
                    text=self._vocab_text[int(top.indices[0])],
                    logprobs=candidates,
                    complete=True,
                    meta={"prompt_tokens": float(len(ids)), "cached_prefix_tokens": float(prefix_len),
                          "batch_seconds": elapsed, "batch_size": float(len(requests))},
                )
            )
        return completions

    async def close(self) -> None:
        self._model = None
        self._tokenizer = None
