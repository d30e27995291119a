"""`raiwatch worker` and `raiwatch demo`."""

from __future__ import annotations

import typer

from ..settings import get_settings


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        loglevel: str = typer.Option("WARNING", help="Log level (DEBUG, INFO, WARNING, ERROR)."),
        health_port: int = typer.Option(None, "--health-port",
                                        help="Serve /live, /ready and /status on this port (RAIWATCH_STAGES__HEALTH_PORT)."),
        only: str = typer.Option(
            None, "--only", metavar="stages|sinks",
            help="Run one part: the Kafka stages (join, screen, judge, alerts) or the ClickHouse sinks. "
                 "Default: both (the sinks in a child process, see RAIWATCH_STAGES__PROCESS_SINKS_APART)."),
    ) -> None:
        """Run the streaming pipeline (join, screen, judge, sinks, alerts) until SIGTERM."""
        from ...streams.app import PARTS
        from ...streams.worker import run_worker

        if only is not None and only not in PARTS:
            raise typer.BadParameter(f"choose one of: {', '.join(PARTS)}", param_hint="--only")
        settings = get_settings()
        if health_port is not None:
            settings = settings.replace(stages__health_port=health_port)
        raise typer.Exit(run_worker(settings, loglevel=loglevel, only=only))

    @app.command("demo")
    def demo(
        requests: int = typer.Option(3000, help="Requests (prompt + output pairs) in the sample traffic."),
        malformed: int = typer.Option(100, help="Malformed messages mixed in."),
        seed: int = typer.Option(7, help="Traffic seed."),
        timeout_s: float = typer.Option(300.0, help="Give up waiting for the counts after this long."),
        json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        tier: str = typer.Option("trained", help="Screen with the trained fast tier (default) or the configured "
                                                 "rule checks ('rules')."),
        judge_share: float = typer.Option(0.02, "--judge-share", min=0.0, max=1.0,
                                          help="Share of requests sampled to the judge (the configured one, else the "
                                               "SmolLM2 safety judge in process); 0: no judge."),
    ) -> None:
        """The whole pipeline end to end: stack up, worker, replay sample traffic, summary."""
        from ..demo import run_demo

        run_demo(get_settings(), requests, malformed, seed, timeout_s, json_output, tier, judge_share)
