"""`raiwatch replay FILE`, `raiwatch tail TOPIC`, `raiwatch traffic generate OUT`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..replay import count_messages, replay
from ..settings import get_settings
from ..tail import tail
from ..traffic import write_traffic


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON-lines file."),
        topic: str | None = typer.Option(None, "--topic", help="Send each line verbatim to this topic "
                                         "(registry name such as rai.prompts); omit for envelope files."),
        rate: float | None = typer.Option(None, "--rate", help="Messages per second (default: as fast as possible)."),
    ) -> None:
        """Publish a JSON-lines file with an idempotent producer."""
        settings = get_settings()
        total = count_messages(file)
        columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("replay", total=total)
            stats = asyncio.run(replay(settings, file, topic, rate, on_sent=lambda n: progress.advance(task, n)))
        for name, count in sorted(stats.sent.items()):
            typer.echo(f"{name}: {count}")
        typer.echo(f"sent {stats.total} message(s) in {stats.seconds:.1f}s")

    @app.command("tail")
    def tail_(
        topic: str = typer.Argument(..., help="Topic (registry name or physical name)."),
        n: int = typer.Option(10, "-n", help="How many of the latest messages."),
    ) -> None:
        """Print the latest messages of a topic as JSON lines."""
        settings = get_settings()
        from ...schemas.registry import TOPICS

        physical = settings.topic(topic) if topic in TOPICS else topic
        for message in asyncio.run(tail(settings, physical, n)):
            typer.echo(json.dumps(message.as_dict()))

    traffic = typer.Typer(help="Synthetic traffic files.", no_args_is_help=True)
    app.add_typer(traffic, name="traffic")

    @traffic.command("generate")
    def generate(
        out: Path = typer.Argument(..., help="Replay file to write."),
        requests: int = typer.Option(1000, help="Number of requests (prompt + output pairs)."),
        malformed: int = typer.Option(0, help="Number of malformed messages mixed in."),
        seed: int = typer.Option(7, help="Random seed (same seed, same file)."),
    ) -> None:
        """Write a deterministic mixed traffic file in replay-envelope format."""
        count = write_traffic(out, requests, malformed, seed)
        typer.echo(f"wrote {count} message(s) to {out}")
