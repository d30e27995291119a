"""`raiwatch worker` and `raiwatch demo`."""

from __future__ import annotations

import typer

from ..settings import get_settings


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        loglevel: str = typer.Option("WARNING", help="Faust log level."),
        web: bool = typer.Option(False, "--web", help="Run the Faust web server (RAIWATCH_WEB_PORT)."),
        only: str = typer.Option(
            None, "--only", metavar="stages|sinks",
            help="Run one part: the Kafka stages (join, screen, judge, alerts) or the ClickHouse sinks. "
                 "Default: both (the sinks in a child process, see RAIWATCH_SINK_PROCESS)."),
    ) -> None:
        """Run the streaming pipeline (join, screen, judge, sinks, alerts) until stopped."""
        from ...streams.app import PARTS
        from ...streams.worker import run_worker

        if only is not None and only not in PARTS:
            raise typer.BadParameter(f"choose one of: {', '.join(PARTS)}", param_hint="--only")
        settings = get_settings()
        if web:
            settings = settings.model_copy(update={"web_enabled": True})
        run_worker(settings, loglevel=loglevel, only=only)

    @app.command("demo")
    def demo(
        requests: int = typer.Option(3000, help="Requests (prompt + output pairs) in the sample traffic."),
        malformed: int = typer.Option(100, help="Malformed messages mixed in."),
        seed: int = typer.Option(7, help="Traffic seed."),
        timeout_s: float = typer.Option(300.0, help="Give up waiting for the counts after this long."),
        json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """The whole pipeline end to end: stack up, worker, replay sample traffic, summary."""
        from ..demo import run_demo

        run_demo(get_settings(), requests, malformed, seed, timeout_s, json_output)
