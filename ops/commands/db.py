"""`raiwatch db migrate | status`."""

from __future__ import annotations

import typer

from ...schemas.clickhouse.migrate import applied_migrations, available_migrations, migrate
from ..settings import get_settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="ClickHouse schema migrations.", no_args_is_help=True)
    app.add_typer(group, name="db")

    @group.command("migrate")
    def migrate_() -> None:
        """Apply pending migrations (idempotent)."""
        applied = migrate(get_settings())
        typer.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "; up to date"))

    @group.command("status")
    def status() -> None:
        """Applied and pending migrations."""
        applied = {v for v, _, _ in applied_migrations(get_settings())}
        for m in available_migrations():
            typer.echo(f"{m.version:04d}_{m.name}: {'applied' if m.version in applied else 'PENDING'}")
