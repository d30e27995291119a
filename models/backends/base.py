"""The one small ABC every judge backend implements, and what it returns.

A judge asks one question per item and reads the answer from the next-token distribution, so a
backend only has to do one thing: for each chat, return the log-probabilities of the first answer
token (and the token it would pick). How it gets them — a local transformers forward pass, a vLLM
engine, an OpenAI-compatible server — is the backend's business; the judge never parses free text
unless the backend could not give log-probabilities (then `logprobs` is None and the judge says
so in the rationale).

Each request may name a LoRA adapter (`JudgeRequest.adapter`) that the backend was given with
`add_adapter(name, path)`: in process the backend loads it onto the one base model (peft, or a
vLLM LoRA request); an OpenAI-compatible server gets the name as the `model` it serves.
"""

from __future__ import annotations

from typing import Any

import abc
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .exceptions import BackendError

ChatMessage = Mapping[str, str]


@dataclass(frozen=True)
class RetryPolicy:
    """How a backend retries transient failures (connection errors, 429, 5xx)."""

    attempts: int = 3
    """Total tries per request, the first included."""
    backoff_s: float = 0.5
    """Wait before the second try; doubles on each further try."""
    max_backoff_s: float = 8.0
    """Upper bound of one wait."""
    jitter: float = 0.25
    """Fraction of random spread added to each wait, so retries of a batch do not stampede."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("RetryPolicy waits must be >= 0")

    def wait_s(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 = the second try)."""
        base = min(self.max_backoff_s, self.backoff_s * (2 ** (retry - 1)))
        return base * (1.0 + random.uniform(0.0, self.jitter))


@dataclass(frozen=True)
class JudgeRequest:
    """One chat for the judge model; the answer is the first token of the assistant turn."""

    messages: tuple[ChatMessage, ...]
    """System and user messages, in order (the rubric first, so servers can cache its prefix)."""
    answers: tuple[str, ...] = ()
    """The answer words the judge reads. A backend that sees the whole vocabulary returns every
    token that starts one of them (besides its top-k), so no answer mass is missed."""
    adapter: str | None = None
    """The LoRA adapter that answers this request (a name given to `add_adapter`); None: the base model."""


@dataclass(frozen=True)
class TokenLogprob:
    """One candidate next token and its natural-log probability."""

    token: str
    """The decoded token text, as the model would emit it (may carry a leading space)."""
    logprob: float
    """Natural-log probability of the token."""


@dataclass(frozen=True)
class JudgeCompletion:
    """What a backend returns for one request: the answer token and its distribution."""

    text: str = ""
    """The greedy answer token (or the server's one-token completion)."""
    logprobs: tuple[TokenLogprob, ...] | None = None
    """Candidate tokens with log-probabilities; None when the backend returned none."""
    complete: bool = True
    """True when `logprobs` covers the whole vocabulary (in-process), False for a top-k list."""
    error: str = ""
    """Non-empty when this request failed (timeout, HTTP error); the judge returns unscored."""
    meta: dict[str, float] = field(default_factory=dict)
    """Backend measurements for this request (e.g. prompt tokens, seconds)."""


class JudgeBackend(abc.ABC):
    """Runs judge chats and returns first-token distributions.

    `generate` must return one completion per request, in order; a failure of one request is a
    completion with `error` set. It may raise `BackendError` only when the whole backend is
    unusable (cannot load, wrong configuration).
    """

    name: str = "backend"
    """Short backend kind, recorded in each judge's check id and rationale."""

    def __init__(self, *, retry: RetryPolicy | None = None, max_connections: int = 8,
                 adapters: Mapping[str, str | Path] | None = None) -> None:
        if max_connections < 1:
            raise BackendError("max_connections must be >= 1")
        self.retry = retry or RetryPolicy()
        self.max_connections = max_connections
        self.adapters: dict[str, str] = {}
        """Adapter name -> its LoRA folder (or, for a server, the name it serves)."""
        for name, path in (adapters or {}).items():
            self.add_adapter(name, path)

    def add_adapter(self, name: str, path: str | Path) -> None:
        """Let requests name the adapter at `path` as `name`; idempotent. Loading happens on
        first use. A name keeps meaning one adapter: its scores are recorded under it."""
        known = self.adapters.get(name)
        if known is not None and known != str(path):
            raise BackendError(f"adapter {name!r} is already {known}, not {path}")
        self.adapters[name] = str(path)

    def identity(self) -> dict[str, Any]:
        """What this backend contributes to the judge's check id: its kind, the model, and
        (in process) a fingerprint of the weights."""
        return {"backend": self.name}

    async def load(self) -> None:
        """Load weights or open connections; called once before the first `generate`."""

    @abc.abstractmethod
    async def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeCompletion]:
        """One completion per request, in order."""

    async def close(self) -> None:
        """Release weights, engines or connections."""
