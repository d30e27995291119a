"""Helpers for tests that need the real local stack: free ports, isolated settings."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from raiwatch.ops.settings import RaiwatchSettings


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports on 127.0.0.1 that nothing listens on right now (all sockets
    are held until every port is chosen, so no two are the same)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def isolated_stack_settings(home: Path) -> RaiwatchSettings:
    """Settings for a private stack in `home` on fresh ports (shares the jar cache)."""
    kafka, controller, http, tcp = free_ports(4)
    return RaiwatchSettings().replace(stack__home=home, stack__kafka_port=kafka, stack__kafka_controller_port=controller,
                                      stack__clickhouse_http_port=http, stack__clickhouse_tcp_port=tcp)


def namespaced(settings: RaiwatchSettings) -> RaiwatchSettings:
    """The same servers with a fresh topic prefix and database, so tests never see each
    other's data."""
    token = uuid.uuid4().hex[:10]
    return settings.replace(kafka__topic_prefix=f"t{token}.", clickhouse__database=f"t_{token}")
