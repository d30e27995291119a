"""`raiwatch review`: the human review queue in the browser."""

from __future__ import annotations

import typer

from ..settings import get_settings


def register(app: typer.Typer) -> None:
    @app.command("review")
    def review(
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(8765, "--port", help="0: a free port."),
        reviewer: str = typer.Option(..., "--reviewer", help="Who labels (recorded with every label)."),
    ) -> None:
        """Serve the review queue: items in a policy's review band and trusted tenants' hits, with
        their evidence highlighted; labels (keys v s o u) go to rai.feedback."""
        from ..review_server import ReviewService, make_server

        service = ReviewService(get_settings(), reviewer)
        server = make_server(service, host, port)
        typer.echo(f"review queue on http://{host}:{server.server_port}/ as {reviewer} (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            service.close()
