"""The adapter registry: every LoRA adapter trained on a base model, with what it was trained
from (job, preference data version, policy versions), its numbers, its status and the tenants
or use cases it serves, in the ClickHouse `adapters` table (the latest row of an adapter wins).

A different adapter per tenant or use case, one base model: `serving_adapter(tenant, use_case)`
is the promoted adapter whose tenants (or use cases) name it, else the promoted one that names
none (every tenant's), else none (the base model). Promoting an adapter retires the one it
replaces for the same tenants; `rollback` restores the one retired before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..ops.errors import RaiwatchError
from ..ops.settings import RaiwatchSettings

COLUMNS = ["adapter_id", "updated_at", "base_model", "model_name", "version", "path", "job_id", "data_version",
           "policy_versions", "metrics", "status", "tenants", "use_cases", "reason", "replaces"]
STATUSES = ("candidate", "promoted", "rejected", "retired")


@dataclass(frozen=True)
class AdapterRecord:
    adapter_id: str
    base_model: str
    model_name: str
    version: str
    path: str
    job_id: str = ""
    data_version: str = ""
    policy_versions: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "candidate"
    tenants: tuple[str, ...] = ()
    use_cases: tuple[str, ...] = ()
    reason: str = ""
    replaces: str = ""  # the adapter its promotion retired
    updated_at: datetime | None = None

    def row(self) -> list[Any]:
        return [self.adapter_id, datetime.now(UTC), self.base_model, self.model_name, self.version, self.path,
                self.job_id, self.data_version, self.policy_versions, self.metrics, self.status, list(self.tenants),
                list(self.use_cases), self.reason, self.replaces]


class AdapterRegistry:
    def __init__(self, settings: RaiwatchSettings) -> None:
        self.settings = settings

    def _client(self) -> Any:
        from ..schemas.clickhouse import clickhouse_client

        return clickhouse_client(self.settings)

    def save(self, record: AdapterRecord) -> AdapterRecord:
        if record.status not in STATUSES:
            raise RaiwatchError(f"unknown adapter status {record.status!r}; one of {', '.join(STATUSES)}")
        client = self._client()
        try:
            client.insert("adapters", [record.row()], column_names=COLUMNS)
        finally:
            client.close()
        return record

    def all(self) -> list[AdapterRecord]:
        client = self._client()
        try:
            rows = client.query(f"SELECT {', '.join(COLUMNS)} FROM adapters FINAL ORDER BY updated_at").result_rows
        finally:
            client.close()
        return [AdapterRecord(adapter_id=r[0], updated_at=r[1], base_model=r[2], model_name=r[3], version=r[4],
                              path=r[5], job_id=r[6], data_version=r[7], policy_versions=dict(r[8]),
                              metrics=dict(r[9]), status=r[10], tenants=tuple(r[11]), use_cases=tuple(r[12]),
                              reason=r[13], replaces=r[14]) for r in rows]

    def get(self, adapter_id: str) -> AdapterRecord:
        found = [a for a in self.all() if a.adapter_id == adapter_id]
        if not found:
            raise RaiwatchError(f"no adapter {adapter_id!r} (raiwatch adapters list)")
        return found[0]

    def promote(self, adapter_id: str, reason: str = "promoted by hand") -> AdapterRecord:
        """Serve this adapter to its tenants; the promoted one it replaces is retired."""
        record = self.get(adapter_id)
        replaced = ""
        for other in self.all():
            if (other.status == "promoted" and other.adapter_id != adapter_id and other.model_name == record.model_name
                    and other.tenants == record.tenants and other.use_cases == record.use_cases):
                self.save(replace(other, status="retired", reason=f"replaced by {adapter_id}"))
                replaced = other.adapter_id
        return self.save(replace(record, status="promoted", reason=reason, replaces=replaced or record.replaces))

    def rollback(self, model_name: str, tenants: tuple[str, ...] = (), use_cases: tuple[str, ...] = ()) -> AdapterRecord:
        """Retire the promoted adapter of these tenants and promote the one retired before it."""
        same = [a for a in self.all() if a.model_name == model_name and a.tenants == tenants and a.use_cases == use_cases]
        current = [a for a in same if a.status == "promoted"]
        if not current:
            raise RaiwatchError(f"no promoted adapter of {model_name} for tenants {list(tenants) or 'all'}")
        retired = [a for a in same if a.status == "retired"]
        if not retired:
            raise RaiwatchError("no earlier adapter to roll back to")
        self.save(replace(current[-1], status="retired", reason="rolled back"))
        return self.save(replace(retired[-1], status="promoted", reason=f"rollback of {current[-1].adapter_id}"))

    def baselines(self) -> dict[str, str]:
        """For the regression watch: each promoted adapter's version (`model:version`) against
        the version it replaced (the retired adapter's, else the base model's version)."""
        records = self.all()
        versions = {a.adapter_id: a.version for a in records}
        return {f"{a.model_name}:{a.version}": versions.get(a.replaces) or a.version.split("+")[0]
                for a in records if a.status == "promoted" and "+" in a.version}

    def serving_adapter(self, model_name: str, tenant: str = "", use_case: str = "") -> AdapterRecord | None:
        return choose_serving(self.all(), model_name, tenant, use_case)


def choose_serving(records: Iterable[AdapterRecord], model_name: str, tenant: str = "",
                   use_case: str = "") -> AdapterRecord | None:
    """The promoted adapter of `model_name` that names the tenant, else one that names the use
    case, else one that names neither (every tenant's), else None (the base model); the latest
    wins. One rule for the registry and the serving path's cached copy (`adapter_routing`)."""
    promoted = [a for a in records if a.status == "promoted" and a.model_name == model_name]
    for pick in ([a for a in promoted if tenant and tenant in a.tenants],
                 [a for a in promoted if use_case and use_case in a.use_cases],
                 [a for a in promoted if not a.tenants and not a.use_cases]):
        if pick:
            return pick[-1]
    return None
