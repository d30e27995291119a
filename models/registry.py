"""One registry of checks: name -> factory, recording arguments and artifact version.

Checks register with a decorator; `create_check("pii.regex", threshold=...)` builds one and
stamps it with a `check_id` such as `pii.regex@1{threshold=0.5}`, which every verdict stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..ops.errors import ConfigurationError
from .scoring import Scorer

FactoryT = TypeVar("FactoryT", bound=Callable[..., Scorer])


@dataclass(frozen=True)
class CheckEntry:
    """A registered check: its factory and the version of the artifact it loads."""

    name: str
    factory: Callable[..., Scorer]
    version: str
    description: str


_REGISTRY: dict[str, CheckEntry] = {}


def register_check(name: str, *, version: str, description: str = "") -> Callable[[FactoryT], FactoryT]:
    """Class or function decorator that registers a check factory under `name`."""

    def decorate(factory: FactoryT) -> FactoryT:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ConfigurationError(f"check {name!r} is registered twice")
        summary = description or ((factory.__doc__ or "").strip().splitlines() or [""])[0]
        _REGISTRY[name] = CheckEntry(name, factory, version, summary)
        return factory

    return decorate


def check_id(name: str, version: str, args: dict[str, Any]) -> str:
    """Stable identifier of a configured check: name, artifact version, sorted arguments."""
    rendered = ",".join(f"{key}={args[key]!r}" for key in sorted(args))
    return f"{name}@{version}" + (f"{{{rendered}}}" if rendered else "")


def create_check(name: str, **args: Any) -> Scorer:
    """Build a registered check with `args` and stamp its `check_id`."""
    entry = registered_checks().get(name)
    if entry is None:
        known = ", ".join(sorted(registered_checks()))
        raise ConfigurationError(f"unknown check {name!r}; registered checks: {known}")
    scorer = entry.factory(**args)
    scorer.check_id = check_id(name, entry.version, args)
    return scorer


def registered_checks() -> dict[str, CheckEntry]:
    """All registered checks (importing `raiwatch.models.catalog` registers the built-in ones)."""
    from . import catalog  # noqa: F401  (registers the built-in checks on first use)

    return dict(_REGISTRY)
