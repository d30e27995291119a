"""Which LoRA adapter serves a request: the tenant's (or use case's) promoted adapter, from a
copy of the adapter registry that is refreshed every `ttl_s`, never queried per request.

An `AdapterRouter` answers `adapter_for(tenant, use_case)` with the registry's rule
(`adapter_registry.choose_serving`: the tenant's adapter, else the use case's, else the
model-wide one, else None: the base model). `assign(host, keys)` also makes each chosen adapter
known to whatever serves it (a generator or a judge backend: anything with
`add_adapter(name, path)`), so one call turns a batch's tenants into per-request adapter names.

The source is the registry (ClickHouse), a fixed mapping `{tenant: adapter}` (`"*"`: every
tenant), or any callable that returns adapter records. When a refresh fails, the router keeps
serving its last copy (a registry outage must not switch every tenant to the base model) and
tries again after another `ttl_s`; only a router that never loaded raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from ..ops.errors import RaiwatchError
from .adapter_registry import AdapterRecord, AdapterRegistry, choose_serving

log = logging.getLogger(__name__)

EVERY_TENANT = "*"
"""The key of a fixed mapping whose adapter serves every tenant without one of its own."""

RETRY_UNLOADED_S = 5.0
"""How soon a router that has never read its source tries again."""

AdapterSource = AdapterRegistry | Mapping[str, str] | Callable[[], Iterable[AdapterRecord]]


class AdapterHost(Protocol):
    """What serves adapters by name (`TransformersGenerator`, `JudgeBackend`, ...)."""

    def add_adapter(self, name: str, path: str) -> None:
        """Make the adapter `name` (a LoRA folder at `path`) available to requests; idempotent."""
        ...


class AdapterRegistryUnavailableError(RaiwatchError):
    """The router has never read its source (the registry is unreachable or the mapping bad)."""


def mapping_records(mapping: Mapping[str, str], model_name: str) -> list[AdapterRecord]:
    """A fixed `{tenant: adapter}` mapping as promoted records. The value is the adapter's name
    and path at once: a LoRA folder for in-process serving, or the LoRA module's name on an
    OpenAI-compatible server."""
    return [AdapterRecord(adapter_id=adapter, base_model="", model_name=model_name, version="", path=adapter,
                          status="promoted", tenants=() if tenant == EVERY_TENANT else (tenant,))
            for tenant, adapter in mapping.items() if adapter]


class AdapterRouter:
    """Tenant (and use case) -> the adapter record that serves it, for one model name."""

    def __init__(self, source: AdapterSource, model_name: str, *, ttl_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise RaiwatchError("AdapterRouter ttl_s must be > 0")
        self.model_name, self.ttl_s, self._clock = model_name, ttl_s, clock
        if isinstance(source, AdapterRegistry):
            self._read: Callable[[], Iterable[AdapterRecord]] = source.all
        elif isinstance(source, Mapping):
            records = mapping_records(source, model_name)
            self._read = lambda: records
        else:
            self._read = source
        # The copy and the answers computed from it, swapped together.
        self._snapshot: tuple[list[AdapterRecord], dict[tuple[str, str], AdapterRecord | None]] | None = None
        self._error = ""
        self._next_refresh = float("-inf")
        self._lock = threading.Lock()
        self.refreshes = 0
        """How many times the source was read (successfully or not)."""

    @property
    def stale(self) -> bool:
        """True when the next lookup would read the source (call `refresh` off the event loop)."""
        return self._clock() >= self._next_refresh

    def refresh(self, *, if_stale: bool = False) -> None:
        """Read the source now (or only when stale); on failure keep the last copy (raise when
        there is none). Blocking: an event loop calls it in a thread."""
        with self._lock:
            if if_stale and not self.stale:
                return  # another thread has just read it
            self.refreshes += 1
            self._next_refresh = self._clock() + self.ttl_s
            try:
                records = [r for r in self._read() if r.model_name == self.model_name and r.status == "promoted"]
            except Exception as exc:  # noqa: BLE001 - any source failure: serve the last copy
                if self._snapshot is None:
                    # Nothing to fall back on: every lookup fails until a read succeeds, and
                    # reads are retried sooner than the TTL (still not per request).
                    self._next_refresh = self._clock() + min(self.ttl_s, RETRY_UNLOADED_S)
                    self._error = f"cannot read the adapters of {self.model_name!r}: {type(exc).__name__}: {exc}"
                    raise AdapterRegistryUnavailableError(self._error) from exc
                log.warning("adapter registry unreadable, serving the copy from before: %s: %s",
                            type(exc).__name__, exc)
                return
            self._snapshot = (records, {})

    def _current(self) -> tuple[list[AdapterRecord], dict[tuple[str, str], AdapterRecord | None]]:
        if self.stale:
            self.refresh(if_stale=True)
        if self._snapshot is None:
            raise AdapterRegistryUnavailableError(self._error)
        return self._snapshot

    def served(self) -> list[AdapterRecord]:
        """Every adapter the current copy may route to (to load them ahead of traffic)."""
        return list(self._current()[0])

    def adapter_for(self, tenant: str = "", use_case: str = "") -> AdapterRecord | None:
        """The adapter serving this tenant and use case, or None for the base model."""
        (records, answers), key = self._current(), (tenant, use_case)
        if key not in answers:
            answers[key] = choose_serving(records, self.model_name, tenant, use_case)
        return answers[key]

    def assign(self, host: AdapterHost, keys: Sequence[tuple[str, str]]) -> list[str | None]:
        """The adapter name for each (tenant, use case), every one added to `host` first."""
        records = [self.adapter_for(tenant, use_case) for tenant, use_case in keys]
        for record in {r.adapter_id: r for r in records if r is not None}.values():
            host.add_adapter(record.adapter_id, record.path)
        return [r.adapter_id if r is not None else None for r in records]
