"""`raiwatch report`: the verdicts, dead letters and latency of a time window, as terminal tables,
JSON, or one self-contained HTML page with charts (`ops/report.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..settings import get_settings


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        since: str = typer.Option("24h", "--since", help="Window: 30m, 24h, 7d, 2w ... or 'all'."),
        html: Path | None = typer.Option(None, "--html", dir_okay=False,
                                         help="Also write one self-contained HTML page with charts here."),
        json_output: bool = typer.Option(False, "--json", help="Print the report as JSON instead of tables."),
    ) -> None:
        """Violation and over-refusal rates per pillar and model version, top categories, dead letters,
        latency quantiles, read back from ClickHouse."""
        from rich.console import Console

        from ..report import build_report, parse_since, print_report, render_html, report_json

        data = build_report(get_settings(), parse_since(since))
        if html is not None:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_html(data), encoding="utf-8")
            Console(stderr=True).print(f"wrote {html}")
        if json_output:
            typer.echo(report_json(data))
        else:
            print_report(data, Console(width=None if sys.stdout.isatty() else 140))
