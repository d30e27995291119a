"""ClickHouse DDL (numbered migrations), the migration runner and the client factory."""

from .client import clickhouse_client

__all__ = ["clickhouse_client"]
