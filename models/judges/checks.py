"""The built-in judges (`judge.safety`, `judge.fairness`, `judge.prompt_injection`), one factory
per rubric, listed in the check table (`models/catalog.py`).

Building a judge is cheap and needs no torch: it checks that the model exists (so `raiwatch
score` can skip judges whose artifacts are missing) and creates the backend, which loads the
weights or opens connections on first use.

Per-tenant adapters on the judge model (the base model is never changed):
- `adapters={"acme": "/runs/judge-acme/checkpoint-200", "*": "/runs/judge-all"}`: a fixed
  tenant -> adapter mapping (`"*"`: every other tenant); for the `openai` backend the values
  are the LoRA names the server serves;
- `adapter_registry="judge-safety"`: the adapters the registry promotes for that model name
  (per tenant, else per use case, else model-wide), read every `adapter_refresh_s` seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..adapter_routing import AdapterRouter
from ..backends.base import JudgeBackend, RetryPolicy
from ..backends.exceptions import BackendError
from ..model_store import SMOLLM2, resolve_model
from .policies import BUILTIN_RUBRICS
from .rubric import Rubric
from .scorer import LLMJudge

BACKENDS = ("transformers", "openai", "vllm")
"""Accepted values of a judge's `backend` argument."""


def make_backend(
    backend: str = "transformers",
    model: str = SMOLLM2,
    *,
    base_url: str | None = None,
    retries: int = 3,
    **options: Any,
) -> JudgeBackend:
    """A judge backend by kind. `model` is a store name or path (in-process backends) or the
    served model name (`openai`); `options` go to the backend's constructor (e.g.
    `max_batch_size`, `prefix_cache`, `max_connections`, `request_timeout_s`, `top_logprobs`)."""
    retry = RetryPolicy(attempts=retries)
    try:
        if backend == "transformers":
            from ..backends.in_process import TransformersBackend

            return TransformersBackend(resolve_model(model), retry=retry, **options)
        if backend == "vllm":
            from ..backends.vllm_engine import VLLMBackend

            return VLLMBackend(resolve_model(model), retry=retry, **options)
        if backend == "openai":
            if not base_url:
                raise BackendError("the openai judge backend needs base_url (e.g. http://127.0.0.1:8000/v1)")
            from ..backends.openai_http import OpenAIBackend

            return OpenAIBackend(base_url, model, retry=retry, **options)
    except TypeError as exc:
        raise BackendError(f"bad option for the {backend} judge backend: {exc}") from None
    raise BackendError(f"unknown judge backend {backend!r}; one of {', '.join(BACKENDS)}")


def adapter_router(adapters: Mapping[str, str] | None, adapter_registry: str | None,
                   refresh_s: float = 60.0) -> AdapterRouter | None:
    """The judge's tenant -> adapter routing from its check arguments (None: no adapters)."""
    if adapters and adapter_registry:
        raise BackendError("give the judge either adapters (a fixed mapping) or adapter_registry, not both")
    if adapters:
        return AdapterRouter(dict(adapters), "judge", ttl_s=refresh_s)
    if adapter_registry:
        from ...ops.settings import get_settings
        from ..adapter_registry import AdapterRegistry

        return AdapterRouter(AdapterRegistry(get_settings()), adapter_registry, ttl_s=refresh_s)
    return None


def _judge_factory(rubric: Rubric) -> Callable[..., LLMJudge]:
    def factory(
        backend: str = "transformers",
        model: str = SMOLLM2,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        threshold: float = 0.5,
        adapters: dict[str, str] | None = None,
        adapter_registry: str | None = None,
        adapter_refresh_s: float = 60.0,
        **backend_args: object,
    ) -> LLMJudge:
        router = adapter_router(adapters, adapter_registry, adapter_refresh_s)
        if router is not None and backend == "vllm":
            backend_args.setdefault("enable_lora", True)
        built = make_backend(backend, model, base_url=base_url, **backend_args)  # type: ignore[arg-type]
        return LLMJudge(rubric, built, timeout_s=timeout_s, threshold=threshold, adapters=router)

    factory.__name__ = f"{rubric.name}_judge"
    factory.__doc__ = f"LLM judge, rubric {rubric.name!r} ({rubric.pillar.value}); score from answer log-probabilities."
    return factory


safety_judge = _judge_factory(BUILTIN_RUBRICS["safety"])
fairness_judge = _judge_factory(BUILTIN_RUBRICS["fairness"])
prompt_injection_judge = _judge_factory(BUILTIN_RUBRICS["prompt_injection"])
