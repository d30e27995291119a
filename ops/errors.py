"""One root exception for raiwatch, with the specific failures callers handle differently."""

from __future__ import annotations


class RaiwatchError(Exception):
    """Root of every error raiwatch raises on purpose; anything else is a bug."""


class ConfigurationError(RaiwatchError):
    """A setting or input file is invalid; the message says which and why."""


class StackError(RaiwatchError):
    """A local service (Kafka, ClickHouse) could not be started, checked or stopped."""


class MigrationError(RaiwatchError):
    """A ClickHouse migration failed or an applied migration was edited afterwards."""


class SinkUnavailableError(RaiwatchError):
    """A sink (ClickHouse) refused a batch; the caller backs off and retries, never drops it.

    `retry_after` is the suggested wait in seconds before the next attempt.
    """

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
