"""The `raiwatch` command line. Each command lives in `ops/commands/<name>.py` as a thin
function over library code and registers itself through that module's `register(app)`."""

from __future__ import annotations

import importlib
import pkgutil

import typer

from . import commands

app = typer.Typer(
    name="raiwatch",
    help="Streaming responsible-AI monitor: Kafka in, guardrails and judges, verdicts to ClickHouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point; known errors print one clear line and exit 1."""
    from .errors import RaiwatchError

    try:
        app()
    except RaiwatchError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
