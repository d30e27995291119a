"""`raiwatch stack up | down | status`: the local Kafka broker and ClickHouse server.

`up` is idempotent (healthy services are left alone), then creates the registry topics and
applies the ClickHouse migrations; `down` stops only the processes whose pid files and
command lines say they are ours.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..errors import StackError
from ..settings import RaiwatchSettings
from . import clickhouse, kafka
from .process import ManagedProcess


@dataclass(frozen=True)
class ServiceStatus:
    """One service as `stack status --json` reports it."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def status(settings: RaiwatchSettings) -> list[ServiceStatus]:
    """Health of both services (a service we did not start but that answers counts as healthy)."""
    kafka_ok, kafka_detail = kafka.is_healthy(settings, timeout_s=3.0)
    ch_host, ch_port = settings.clickhouse_address
    ch_ok, ch_detail = clickhouse.is_healthy(ch_host, ch_port)
    return [
        ServiceStatus("kafka", settings.bootstrap_servers, kafka.kafka_process(settings).pid(), kafka_ok, kafka_detail),
        ServiceStatus(
            "clickhouse",
            f"http://{ch_host}:{ch_port}",
            clickhouse.clickhouse_process(settings).pid(),
            ch_ok,
            ch_detail,
        ),
    ]


def up(settings: RaiwatchSettings, *, provision: bool = True) -> list[ServiceStatus]:
    """Start what is not healthy, wait for health, then create topics and migrate."""
    current = {s.name: s for s in status(settings)}
    started: list[ManagedProcess] = []
    if not current["kafka"].healthy:
        kafka.start(settings)
        started.append(kafka.kafka_process(settings))
    if not current["clickhouse"].healthy:
        clickhouse.start(settings)
        started.append(clickhouse.clickhouse_process(settings))
    services = wait_healthy(settings, settings.stack.health_timeout_s, started)
    if provision:
        from ...schemas.clickhouse.migrate import migrate
        from ..topics import create_topics

        create_topics(settings)
        migrate(settings)
    return services


def wait_healthy(
    settings: RaiwatchSettings, timeout_s: float, started: list[ManagedProcess] = ()
) -> list[ServiceStatus]:
    """Poll until both services are healthy; a started process that dies, or the timeout,
    raises with the last lines of its log."""
    deadline = time.monotonic() + timeout_s
    while True:
        services = status(settings)
        if all(s.healthy for s in services):
            return services
        for proc in started:
            if proc.pid() is None:
                raise StackError(f"{proc.name} exited during start-up; last log lines:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            bad = "; ".join(f"{s.name}: {s.detail}" for s in services if not s.healthy)
            raise StackError(f"stack not healthy after {timeout_s:.0f}s: {bad}")
        time.sleep(0.5)


def down(settings: RaiwatchSettings) -> dict[str, str]:
    """Stop our services (ClickHouse first, so no writer outlives the broker it reads from)."""
    return {
        "clickhouse": clickhouse.stop(settings),
        "kafka": kafka.kafka_process(settings).stop(timeout_s=30.0),
    }
