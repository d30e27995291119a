"""`raiwatch stack up | down | status [--json]`."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from .. import stack
from ..settings import get_settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The local Kafka broker and ClickHouse server on 127.0.0.1.", no_args_is_help=True)
    app.add_typer(group, name="stack")

    @group.command("up")
    def up(json_output: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
        """Start Kafka and ClickHouse (if not healthy), create topics, apply migrations."""
        settings = get_settings()
        console = Console(stderr=True)
        with console.status("starting Kafka and ClickHouse, creating topics, migrating..."):
            services = stack.up(settings)
        _print(services, json_output)

    @group.command("down")
    def down(json_output: bool = typer.Option(False, "--json")) -> None:
        """Stop the services this stack started (and nothing else)."""
        outcome = stack.down(get_settings())
        if json_output:
            typer.echo(json.dumps(outcome))
        else:
            for name, what in outcome.items():
                typer.echo(f"{name}: {what}")

    @group.command("status")
    def status(json_output: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
        """Address, pid and health of each service; exit code 1 when any is unhealthy."""
        services = stack.status(get_settings())
        _print(services, json_output)
        if not all(s.healthy for s in services):
            raise typer.Exit(1)


def _print(services: list[stack.ServiceStatus], json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps({s.name: s.as_dict() for s in services}, indent=2))
        return
    table = Table("service", "address", "pid", "health", "detail")
    for s in services:
        table.add_row(s.name, s.address, str(s.pid or "-"), "healthy" if s.healthy else "DOWN", s.detail)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
