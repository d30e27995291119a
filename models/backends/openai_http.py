"""Judge backend for any OpenAI-compatible server: `vllm serve` in production, `transformers serve`.

Each item is one `/v1/chat/completions` call with `max_tokens=1`, `temperature=0`, `logprobs`
and `top_logprobs`; the server batches concurrent calls (vLLM: continuous batching, and the
shared rubric prefix hits its prefix cache). A server that ignores `logprobs` (transformers
serve does) still returns the one answer token: the completion then carries `logprobs=None`
and the judge marks the verdict UNCALIBRATED instead of inventing a probability.

Failures: connection errors, 408/429/5xx are retried with exponential backoff and jitter; other
HTTP errors and exhausted retries become that item's `error`, so the judge returns unscored.

Adapters: a request naming one is sent with that name as `model`; vLLM serves LoRA adapters
by name (`--enable-lora --lora-modules NAME=PATH`, the registry's adapter id as NAME).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from .base import JudgeBackend, JudgeCompletion, JudgeRequest, RetryPolicy, TokenLogprob
from .exceptions import BackendError

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIBackend(JudgeBackend):
    """Calls `/v1/chat/completions` of an OpenAI-compatible server, one request per item."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        top_logprobs: int = 20,
        request_timeout_s: float = 30.0,
        max_connections: int = 16,
        retry: RetryPolicy | None = None,
        extra_body: dict[str, Any] | None = None,
        adapters: dict[str, str] | None = None,
    ) -> None:
        super().__init__(retry=retry, max_connections=max_connections, adapters=adapters)
        if not base_url.startswith(("http://", "https://")):
            raise BackendError(f"base_url must be http(s)://..., got {base_url!r}")
        # Accept both "http://host:8000" and "http://host:8000/v1".
        self.base_url = base_url.rstrip("/").removesuffix("/v1") + "/v1"
        self.model = model
        # From the settings by default (judge.api_key, a secret that is never logged); an
        # argument named like a secret never lands in a check id either.
        if api_key is None:
            from ...ops.settings import get_settings

            secret = get_settings().judge.api_key
            api_key = secret.get_secret_value() if secret is not None else None
        self.api_key = api_key
        self.top_logprobs = top_logprobs
        self.request_timeout_s = request_timeout_s
        self.extra_body = dict(extra_body or {})
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(max_connections)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model}

    async def load(self) -> None:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(self.request_timeout_s),
                limits=httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections),
            )

    async def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeCompletion]:
        await self.load()
        return list(await asyncio.gather(*(self._one(request) for request in requests)))

    def _body(self, request: JudgeRequest) -> dict[str, Any]:
        return {
            "model": request.adapter or self.model,
            "messages": [dict(m) for m in request.messages],
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": self.top_logprobs,
            **self.extra_body,
        }

    async def _one(self, request: JudgeRequest) -> JudgeCompletion:
        assert self._client is not None
        body = self._body(request)
        last_error = ""
        for attempt in range(1, self.retry.attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self.retry.wait_s(attempt - 1))
            try:
                async with self._slots:
                    response = await self._client.post("/chat/completions", json=body)
            except httpx.TimeoutException:
                last_error = f"timeout after {self.request_timeout_s:.0f}s"
                continue
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in _RETRY_STATUS:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                return JudgeCompletion(error=f"HTTP {response.status_code}: {response.text[:200]}")
            try:
                return parse_chat_completion(response.json())
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                return JudgeCompletion(error=f"unreadable response: {type(exc).__name__}: {exc}")
        return JudgeCompletion(error=f"{last_error} (after {self.retry.attempts} tries)")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def parse_chat_completion(payload: dict[str, Any]) -> JudgeCompletion:
    """The answer token and its top log-probabilities from a chat-completions response."""
    choice = payload["choices"][0]
    text = (choice.get("message") or {}).get("content") or ""
    content = (choice.get("logprobs") or {}).get("content") or []
    if not content:
        return JudgeCompletion(text=text, logprobs=None, complete=False)
    first = content[0]
    candidates = [TokenLogprob(str(t["token"]), float(t["logprob"])) for t in first.get("top_logprobs") or []]
    if not candidates:
        candidates = [TokenLogprob(str(first["token"]), float(first["logprob"]))]
    return JudgeCompletion(text=text or str(first.get("token", "")), logprobs=tuple(candidates), complete=False)
