"""The LLM judge as a `Scorer`: rubric prompt in, calibrated risk from answer log-probs out.

Why it never raises: the judge stage runs inside a Kafka consumer; a slow server, a load
failure or an unreadable answer must become an explicit unscored verdict with its reason, so the
message still produces exactly one verdict row.

Per-tenant adapters: with an `AdapterRouter`, each item is judged by its tenant's (or use
case's) adapter on the backend's base model, and the rationale names the adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from ...schemas.common import Pillar
from ..adapter_routing import AdapterRouter
from ..backends.base import JudgeBackend, JudgeCompletion
from ..scoring import Score, ScoringItem
from .answer import read_answer
from .rubric import Rubric, build_request


class LLMJudge:
    """Scores items against one rubric with one backend.

    `threshold` is where `categories` gets the rubric's violation label; the value itself is the
    calibrated risk either way, for dashboards and regression statistics.
    """

    def __init__(
        self,
        rubric: Rubric,
        backend: JudgeBackend,
        *,
        timeout_s: float = 60.0,
        threshold: float = 0.5,
        max_chars: int = 6000,
        adapters: AdapterRouter | None = None,
    ) -> None:
        self.rubric = rubric
        self.backend = backend
        self.adapters = adapters
        self.timeout_s = timeout_s
        self.threshold = threshold
        self.max_chars = max_chars
        self.pillar: Pillar = rubric.pillar
        self.version = f"rubric{rubric.version}"
        self.check_id = f"judge.{rubric.name}@{self.version}"
        self._loaded = False

    def identity(self) -> dict:
        """The backend, the model and its weights, and the threshold: what changes results."""
        return {**self.backend.identity(), "threshold": self.threshold}

    async def load(self) -> None:
        """Load the backend now (the CLI times it apart from scoring); raises on failure."""
        await self.backend.load()
        self._loaded = True

    async def score_batch(self, items: Sequence[ScoringItem]) -> list[Score]:
        if not items:
            return []
        built = [build_request(self.rubric, item, max_chars=self.max_chars) for item in items]
        requests = [request for request, _ in built]
        names: list[str | None] = [None] * len(items)
        if self.adapters is not None:
            try:
                if self.adapters.stale:  # a registry read, every ttl_s, off the event loop
                    await asyncio.to_thread(self.adapters.refresh, if_stale=True)
                names = self.adapters.assign(self.backend, [(item.tenant, item.use_case) for item in items])
            except Exception as exc:  # noqa: BLE001 - no adapter known: unscored, never the wrong model
                return [self._unscored(f"judge adapters unavailable: {type(exc).__name__}: {exc}") for _ in items]
            requests = [replace(request, adapter=name) for request, name in zip(requests, names, strict=True)]
        try:
            if not self._loaded:
                await self.load()
            completions = await asyncio.wait_for(self.backend.generate(requests), timeout=self.timeout_s)
        except TimeoutError:
            return [self._unscored(f"judge timed out after {self.timeout_s:g}s") for _ in items]
        except Exception as exc:  # noqa: BLE001 - any backend failure becomes an unscored verdict
            return [self._unscored(f"judge backend {self.backend.name} failed: {type(exc).__name__}: {exc}") for _ in items]
        if len(completions) != len(items):
            return [self._unscored(f"backend returned {len(completions)} answers for {len(items)} items") for _ in items]
        return [
            self._score(completion, clipped, adapter)
            for completion, (_, clipped), adapter in zip(completions, built, names, strict=True)
        ]

    def _score(self, completion: JudgeCompletion, clipped: bool, adapter: str | None = None) -> Score:
        if completion.error:
            return self._unscored(f"judge backend {self.backend.name}: {completion.error}")
        answer = read_answer(completion, self.rubric)
        if answer is None:
            return self._unscored(
                f"judge answer {completion.text!r} matches none of {', '.join(self.rubric.labels)}"
            )
        violation = [o.label for o in self.rubric.options if o.risk >= self.threshold]
        categories = tuple(f"{self.rubric.name}.{label}" for label in violation) if answer.risk >= self.threshold else ()
        rationale = f"{answer.rationale()}; rubric {self.rubric.name}@{self.rubric.version} via {self.backend.name}"
        if self.adapters is not None:
            rationale += f" with adapter {adapter}" if adapter else " with the base model"
        if clipped:
            rationale += "; judged text was clipped"
        return Score(
            check=self.check_id, pillar=self.pillar, value=answer.risk, categories=categories,
            rationale=rationale, threshold=self.threshold,
        )

    def _unscored(self, error: str) -> Score:
        return Score.unscored(self.check_id, self.pillar, error)

    async def close(self) -> None:
        """Release the backend."""
        await self.backend.close()
