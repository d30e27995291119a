"""`raiwatch metrics`: the per-minute verdict metrics, grouped and filtered, as a table or JSON."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import typer

from ..settings import get_settings


def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics(
        by: str = typer.Option("model_name,model_version", "--by",
                               help="Comma-separated: minute, tenant, model_name, model_version, model_adapter, "
                                    "pillar, category, locale."),
        since: str = typer.Option("24h", "--since", help="Window: 30m, 24h, 7d ... or 'all'."),
        where: list[str] = typer.Option([], "--where", help="Filter NAME=VALUE, e.g. --where tenant=acme (repeatable)."),
        json_output: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
    ) -> None:
        """Requests, violations, over-refusals, partials, judged requests and rates, with judge score
        and latency quantiles (p50, p90, p99), from the views the dashboards read."""
        from rich.console import Console
        from rich.table import Table

        from ..errors import RaiwatchError
        from ..metrics import read_metrics
        from ..report import parse_since

        filters = {}
        for item in where:
            name, sep, value = item.partition("=")
            if not sep:
                raise RaiwatchError(f"--where {item!r}: use NAME=VALUE")
            filters[name.strip()] = value
        window = parse_since(since)
        start = datetime.now(UTC) - window if window is not None else None
        dims = [d.strip() for d in by.split(",") if d.strip()]
        rows = read_metrics(get_settings(), dims, since=start, filters=filters)
        if json_output:
            for row in rows:
                typer.echo(json.dumps(row.as_dict()))
            return
        table = Table(title=f"verdict metrics, last {since}" if window else "verdict metrics, all time")
        for name in [*dims, "requests", "violations", "viol. rate", "over-ref.", "over-ref. rate", "partials",
                     "judged", "judge p50/p99", "screen ms p50/p99"]:
            table.add_column(name, justify="left" if name in dims else "right")

        def pair(values: list[float]) -> str:
            return f"{values[0]:.2f}/{values[-1]:.2f}" if values else "-"

        for row in rows:
            table.add_row(*[row.keys[d] or "(all)" for d in dims], str(row.requests), str(row.violations),
                          f"{row.violation_rate:.2%}", str(row.over_refusals), f"{row.over_refusal_rate:.2%}",
                          str(row.partials), str(row.judged), pair(row.judge_score_quantiles),
                          pair(row.screen_latency_ms_quantiles))
        Console(width=None if sys.stdout.isatty() else 160).print(table)
