"""Build a check by name with its arguments, and stamp what exactly it is.

`create_check("judge.safety", backend="openai", base_url=..., model="llama-guard")` finds the
check in the table (`models/catalog.py`: built-ins and the `raiwatch.checks` entry points),
imports its factory, builds it, and sets its `check_id`: the name, the version of its artifact
or logic, and its identity, the resolved arguments that change results (for a judge the
backend, the model name and a fingerprint of the weights it loaded; for a classifier its
training-data fingerprint), after the arguments as given (less any that look like secrets),
e.g. `judge.safety@rubric2{backend='openai',base_url='http://vllm:8000/v1',model='llama-guard'}`.
Every verdict stores these ids, so each verdict names exactly what produced it.
"""

from __future__ import annotations

import re
from typing import Any

from ..ops.errors import ConfigurationError
from ..schemas.checks import CheckSpec
from .catalog import available_checks
from .scoring import Scorer


SECRET_ARGUMENT = re.compile(r"key|token|password|secret|credential", re.IGNORECASE)  # never in a check id


def check_id(name: str, version: str, identity: dict[str, Any]) -> str:
    """Stable identifier of a configured check: name, version, sorted identity."""
    rendered = ",".join(f"{key}={identity[key]!r}" for key in sorted(identity))
    return f"{name}@{version}" + (f"{{{rendered}}}" if rendered else "")


def create_check(name: str | CheckSpec, **args: Any) -> Scorer:
    """Build the check `name` with `args` (or from a `CheckSpec`) and stamp its `check_id`."""
    if isinstance(name, CheckSpec):
        name, args = name.name, {**name.args, **args}
    entry = available_checks().get(name)
    if entry is None:
        known = ", ".join(sorted(available_checks()))
        raise ConfigurationError(f"unknown check {name!r}; available checks: {known}")
    try:
        factory = entry.load()
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"check {name!r} ({entry.target}, from {entry.provider}) cannot be loaded: {exc}") from exc
    try:
        scorer = factory(**args)
    except TypeError as exc:
        raise ConfigurationError(f"bad arguments for check {name!r}: {exc}") from None
    identity = {key: value for key, value in args.items() if not SECRET_ARGUMENT.search(key)}
    if callable(getattr(scorer, "identity", None)):
        identity.update(scorer.identity())
    scorer.check_id = check_id(name, str(getattr(scorer, "version", "1")), identity)
    return scorer
