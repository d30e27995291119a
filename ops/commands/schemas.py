"""`raiwatch schemas export DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from ...schemas.json_export import export_json_schemas


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Wire formats of the topics.", no_args_is_help=True)
    app.add_typer(group, name="schemas")

    @group.command("export")
    def export(directory: Path = typer.Argument(..., help="Where to write one JSON Schema file per topic.")) -> None:
        """Write the JSON Schema of every topic's model (committed copy: schemas/json/)."""
        written = export_json_schemas(directory)
        typer.echo(f"wrote {len(written)} schema(s) to {directory}")
