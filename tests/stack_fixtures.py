"""Helpers for tests that need the real local stack: free ports, isolated settings."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from raiwatch.ops.settings import RaiwatchSettings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_stack_settings(home: Path) -> RaiwatchSettings:
    """Settings for a private stack in `home` on fresh ports (shares the jar cache)."""
    return RaiwatchSettings(
        home=home,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        clickhouse_http_port=free_port(),
        clickhouse_tcp_port=free_port(),
    )


def namespaced(settings: RaiwatchSettings) -> RaiwatchSettings:
    """The same servers with a fresh topic prefix and database, so tests never see each
    other's data."""
    token = uuid.uuid4().hex[:10]
    return settings.model_copy(update={"topic_prefix": f"t{token}.", "clickhouse_database": f"t_{token}"})
