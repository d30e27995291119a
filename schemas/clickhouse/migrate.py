"""Versioned ClickHouse migrations: numbered SQL files applied once, recorded in a table.

`raiwatch db migrate` applies the files in `migrations/` whose number is not yet recorded in
`{db}.schema_migrations`; re-running changes nothing. An applied file that was edited since
is an error, not a silent divergence between environments.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from ...ops.errors import MigrationError
from ...ops.settings import RaiwatchSettings
from .client import clickhouse_client

FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, database: str) -> list[str]:
        """The file's statements with `{db}` filled in. Comment lines are dropped and a statement
        ends with `;` at the end of a line (so `;` inside a COMMENT string is safe)."""
        body = "\n".join(line for line in self.sql.splitlines() if not line.strip().startswith("--"))
        return [s.strip().replace("{db}", f"`{database}`") for s in STATEMENT_END.split(body) if s.strip()]


def available_migrations() -> list[Migration]:
    """Migrations shipped with the package, in version order."""
    found = []
    for entry in resources.files("raiwatch.schemas.clickhouse").joinpath("migrations").iterdir():
        match = FILE_PATTERN.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers: {versions}")
    return found


def migrate(settings: RaiwatchSettings) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    database = settings.clickhouse.database
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
        raise MigrationError(f"invalid database name {database!r}")
    client = clickhouse_client(settings, database="")
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        client.command(
            f"CREATE TABLE IF NOT EXISTS `{database}`.schema_migrations "
            "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')) "
            "ENGINE = ReplacingMergeTree ORDER BY version"
        )
        applied = {
            row[0]: (row[1], row[2])
            for row in client.query(f"SELECT version, name, checksum FROM `{database}`.schema_migrations FINAL").result_rows
        }
        done = []
        for migration in available_migrations():
            if migration.version in applied:
                if applied[migration.version][1] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was edited after it was applied; "
                        "add a new migration instead"
                    )
                continue
            for statement in migration.statements(database):
                try:
                    client.command(statement)
                except Exception as exc:
                    raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
            client.insert(
                f"`{database}`.schema_migrations",
                [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
                column_names=["version", "name", "checksum", "applied_at"],
            )
            done.append(f"{migration.version:04d}_{migration.name}")
        return done
    finally:
        client.close()


def applied_migrations(settings: RaiwatchSettings) -> list[tuple[int, str, str]]:
    """(version, name, checksum) of applied migrations."""
    client = clickhouse_client(settings, database="")
    try:
        return [
            tuple(row)
            for row in client.query(
                f"SELECT version, name, checksum FROM `{settings.clickhouse.database}`.schema_migrations FINAL ORDER BY version"
            ).result_rows
        ]
    finally:
        client.close()
