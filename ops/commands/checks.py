"""`raiwatch checks list`: the check table, built-in checks and those of installed plugins."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    checks_app = typer.Typer(help="The checks raiwatch can run (built in, and from installed plugin packages).",
                             no_args_is_help=True)
    app.add_typer(checks_app, name="checks")

    @checks_app.command("list")
    def list_checks(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Every available check: name, provider, implementation."""
        from rich.console import Console
        from rich.table import Table

        from ...models import available_checks

        entries = sorted(available_checks().values(), key=lambda e: e.name)
        if json_output:
            typer.echo(json.dumps([{"name": e.name, "provider": e.provider, "target": e.target,
                                    "description": e.description} for e in entries], indent=2))
            return
        table = Table("check", "provider", "what it does", "implementation")
        for entry in entries:
            table.add_row(entry.name, entry.provider, entry.description, entry.target)
        Console().print(table)
