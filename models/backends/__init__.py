"""Judge backends behind one small ABC: in-process transformers, OpenAI-compatible HTTP, vLLM.

Importing this package is cheap: torch, transformers and vllm load only when a backend loads.
"""

from .base import JudgeBackend, JudgeCompletion, JudgeRequest, RetryPolicy, TokenLogprob
from .exceptions import BackendError, BackendNotInstalledError

__all__ = [
    "BackendError", "BackendNotInstalledError", "JudgeBackend", "JudgeCompletion", "JudgeRequest",
    "RetryPolicy", "TokenLogprob",
]
