"""One place that builds ClickHouse clients from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...ops.settings import RaiwatchSettings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


def clickhouse_client(settings: RaiwatchSettings, *, database: str | None = None, **kwargs) -> Client:
    """An HTTP client for the configured server; `database=""` means none selected."""
    import clickhouse_connect

    return clickhouse_connect.get_client(
        host=settings.clickhouse_address,
        port=settings.clickhouse_http_port,
        username=settings.clickhouse_user,
        password=settings.clickhouse_password,
        database=settings.clickhouse_database if database is None else database,
        **kwargs,
    )
