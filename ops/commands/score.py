"""`raiwatch score`: every configured check's verdict on one event, with timings.

Input: a JSON event (a `rai.prompts`/`rai.outputs`-style object, or any object with `prompt` /
`output` / `system_prompt` / `context`) from a file or stdin, or plain text with `--text`.
By default it runs every registered check that can be built here: rule checks always, ML
checks whose artifacts exist (a check whose model is missing is listed as skipped with why).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigurationError, RaiwatchError


def read_item(source: Path | None, text: str | None, as_output: bool):  # type: ignore[no-untyped-def]
    """The ScoringItem from `--text`, a file, or stdin ("-" or nothing piped in)."""
    from ...models.scoring import ScoringItem

    if text is not None:
        return ScoringItem(request_id="cli", output=text) if as_output else ScoringItem(request_id="cli", prompt=text)
    raw = sys.stdin.read() if source is None or str(source) == "-" else source.read_text()
    try:
        event: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"the event is not JSON ({exc}); use --text for plain text") from None
    if not isinstance(event, dict):
        raise ConfigurationError("the event must be a JSON object")
    return ScoringItem(
        request_id=str(event.get("request_id") or "cli"),
        prompt=str(event.get("prompt") or ""),
        output=str(event.get("output") or ""),
        system_prompt=str(event.get("system_prompt") or ""),
        context=tuple(str(c) for c in event.get("context") or ()),
        locale=str(event.get("locale") or "en"),
        tenant=str(event.get("tenant") or "default"),
    )


def build_checks(names: list[str] | None, judge_args: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
    """Checks to run and, for those left out, why. Explicit `--check` names must build."""
    from ...models import available_checks, create_check

    checks, skipped = [], {}
    for name in names or sorted(available_checks()):
        args = judge_args if name.startswith("judge.") else {}
        try:
            checks.append(create_check(name, **args))
        except (RaiwatchError, ImportError, OSError) as exc:
            if names:
                raise ConfigurationError(f"check {name!r} cannot be built: {exc}") from exc
            skipped[name] = f"{type(exc).__name__}: {exc}"
    return checks, skipped


async def run_all(checks: list[Any], item: Any) -> list[dict[str, Any]]:
    """Each check's verdict and timings (load apart from scoring where the check can load)."""
    rows = []
    for check in checks:
        load_ms = None
        if hasattr(check, "load"):
            started = time.perf_counter()
            try:
                await check.load()
            except Exception as exc:  # noqa: BLE001 - reported as this check's error, others still run
                rows.append({"check": check.check_id, "pillar": str(check.pillar), "value": None,
                             "error": f"load failed: {type(exc).__name__}: {exc}"})
                continue
            load_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        (score,) = await check.score_batch([item])
        row = {
            "check": score.check, "pillar": str(score.pillar), "value": score.value,
            "categories": list(score.categories), "rationale": score.rationale, "error": score.error,
            "score_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if load_ms is not None:
            row["load_ms"] = round(load_ms, 1)
        rows.append(row)
        if hasattr(check, "close"):
            await check.close()
    return rows


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score(
        source: Annotated[Path | None, typer.Argument(help="Event JSON file; '-' or omitted reads stdin.")] = None,
        text: Annotated[str | None, typer.Option("--text", help="Score this text instead of an event.")] = None,
        as_prompt: Annotated[bool, typer.Option("--prompt", help="With --text: the text is a prompt, not an output.")] = False,
        check: Annotated[list[str] | None, typer.Option("--check", "-c", help="Check name (repeatable); default all that can be built.")] = None,
        judge_backend: Annotated[str | None, typer.Option(help="Judges: transformers, openai or vllm.")] = None,
        judge_model: Annotated[str | None, typer.Option(help="Judges: store name, checkpoint path, or served model name.")] = None,
        judge_url: Annotated[str | None, typer.Option(help="Judges with --judge-backend openai: server base URL.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Print every configured check's verdict on one event, with timings."""
        judge_args = {k: v for k, v in {"backend": judge_backend, "model": judge_model, "base_url": judge_url}.items() if v}
        item = read_item(source, text, as_output=not as_prompt)
        checks, skipped = build_checks(check, judge_args)
        started = time.perf_counter()
        rows = asyncio.run(run_all(checks, item))
        total_ms = round((time.perf_counter() - started) * 1000, 1)
        if as_json:
            typer.echo(json.dumps({"request_id": item.request_id, "verdicts": rows, "skipped": skipped, "total_ms": total_ms}, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"request {item.request_id}")
        for column in ("check", "pillar", "value", "categories", "ms", "rationale / error"):
            table.add_column(column, overflow="fold")
        for row in rows:
            value = "unscored" if row["value"] is None else f"{row['value']:.3f}"
            ms = f"{row.get('score_ms', 0):.0f}" + (f" (+{row['load_ms']:.0f} load)" if "load_ms" in row else "")
            table.add_row(row["check"], row["pillar"], value, ", ".join(row.get("categories", [])), ms,
                          row.get("error") or row.get("rationale", ""))
        console = Console()
        console.print(table)
        for name, why in skipped.items():
            console.print(f"[dim]skipped {name}: {why}[/dim]")
        console.print(f"total {total_ms:.0f} ms")
