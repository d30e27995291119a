"""One place that builds ClickHouse clients from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...ops.settings import RaiwatchSettings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


def clickhouse_client(settings: RaiwatchSettings, *, database: str | None = None, **kwargs: Any) -> Client:
    """An HTTP client for the configured server; `database=""` means none selected."""
    import clickhouse_connect

    config = settings.clickhouse
    host, port = settings.clickhouse_address
    return clickhouse_connect.get_client(
        host=host, port=port, secure=config.secure,
        username=config.user, password=config.password.get_secret_value(),
        database=config.database if database is None else database,
        **{**config.client, **kwargs},
    )
