"""`raiwatch topics create | list`."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from ..settings import get_settings
from ..topics import create_topics, list_topics


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Kafka topics from the registry in schemas/registry.py.", no_args_is_help=True)
    app.add_typer(group, name="topics")

    @group.command("create")
    def create() -> None:
        """Create every registry topic that does not exist yet (idempotent)."""
        created = create_topics(get_settings())
        typer.echo(f"created {len(created)} topic(s)" + (": " + ", ".join(created) if created else ""))

    @group.command("list")
    def list_(json_output: bool = typer.Option(False, "--json")) -> None:
        """Every registry topic: exists?, partitions, cleanup policy, retention, key."""
        states = list_topics(get_settings())
        if json_output:
            typer.echo(json.dumps([
                {"name": s.name, "exists": s.exists, "matches_registry": s.matches, "partitions": s.partitions,
                 "cleanup.policy": s.configs.get("cleanup.policy"), "retention.ms": s.configs.get("retention.ms"),
                 "key": s.spec.key_field, "model": s.spec.model.__name__}
                for s in states
            ], indent=2))
            return
        table = Table("topic", "exists", "partitions", "cleanup", "retention.ms", "key", "model")
        for s in states:
            table.add_row(s.name, "yes" if s.exists else "NO", str(s.partitions), s.configs.get("cleanup.policy", "-"),
                          s.configs.get("retention.ms", "-"), s.spec.key_field or "-", s.spec.model.__name__)
        Console(width=None if sys.stdout.isatty() else 200).print(table)
        if not all(s.exists for s in states):
            raise typer.Exit(1)
