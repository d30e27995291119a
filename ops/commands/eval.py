"""`raiwatch eval run | suites | list | compare | frontier | checkpoints` and `raiwatch evaluator`: offline
evaluation of a model, an adapter or a training run's checkpoints (`trainers/evaluation.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..settings import get_settings


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Evaluate models on suites; compare evaluations; select checkpoints.",
                        no_args_is_help=True)
    app.add_typer(group, name="eval")

    @group.command("suites")
    def suites() -> None:
        """The suites, their pillar and size."""
        from ...trainers.eval_suites import COLLECTED, NOT_BUILT, SUITES, load_suite

        for suite in SUITES.values():
            typer.echo(f"{suite.name:24} {suite.pillar:18} {len(load_suite(suite.name)):5}  {suite.description}")
        typer.echo(f"{COLLECTED:24} {'(per example)':18} {'':5}  the red-team examples collected from traffic")
        typer.echo(f"not built yet: {', '.join(sorted(NOT_BUILT))}")

    @group.command("run")
    def run(
        model: str = typer.Option(..., "--model", help="Checkpoint folder or model store name (backend openai: "
                                                      "the served model's name)."),
        adapter: Path | None = typer.Option(None, "--adapter", help="A LoRA adapter folder (peft) on the model."),
        backend: str | None = typer.Option(None, "--backend", help="transformers | vllm | openai (default: eval.backend)."),
        base_url: str | None = typer.Option(None, "--base-url", help="The OpenAI-compatible server (backend openai)."),
        suites: str = typer.Option("harmful_behaviours,injection_jailbreaks,benign_over_refusal,bbq_bias",
                                   "--suites", help="Comma-separated suite names (raiwatch eval suites)."),
        limit: int | None = typer.Option(None, "--limit", help="Items per suite (default: eval.limit_per_suite)."),
        name: str | None = typer.Option(None, "--name", help="Model name for the results (default: the folder's)."),
        version: str = typer.Option("", "--version", help="Model version for the results."),
        eval_id: str | None = typer.Option(None, "--eval-id", help="Default: from model, weights, suites and limit "
                                                                   "(the same command resumes a killed run)."),
        store: bool = typer.Option(True, "--store/--no-store", help="Write results to ClickHouse and rai.eval.results."),
        json_output: bool = typer.Option(False, "--json", help="Print the results as JSON lines."),
    ) -> None:
        """Generate replies to the suites' prompts (resuming a killed run), score them with the
        configured checks and the stream's verdict rule, print rates with 95% intervals."""
        from ...schemas.common import ModelRef
        from ...trainers.eval_suites import COLLECTED
        from ...trainers.evaluation import eval_generator, run_evaluation, store_results

        settings = get_settings()
        names = _split(suites)
        extra = None
        if COLLECTED in names:
            from ...trainers.redteam_suite import collected_items

            extra = {COLLECTED: collected_items(settings)}
        ref = ModelRef(name=name or Path(model).name, version=version, adapter=adapter.name if adapter else "")
        generator = eval_generator(settings, model, str(adapter) if adapter else None, backend, base_url)
        try:
            result = run_evaluation(settings, ref, generator, names, limit or settings.eval.limit_per_suite,
                                    eval_id=eval_id, extra_items=extra)
        finally:
            generator.close()
        if store:
            store_results(settings, result.results)
        resumed = len(result.scored) - result.generated
        typer.echo(f"eval {result.eval_id}: {len(result.scored)} replies ({result.generated} generated, "
                   f"{resumed} resumed){'; stored' if store else ''}", err=True)
        for r in result.results:
            if json_output:
                typer.echo(r.model_dump_json())
            elif r.category == "":
                typer.echo(f"{r.suite:24} {r.metric:26} {r.value:7.1%}  [{r.ci_low:.1%}, {r.ci_high:.1%}]  n={r.n}")

    @group.command("list")
    def list_runs() -> None:
        """Evaluations stored in ClickHouse, newest first."""
        from ...schemas.clickhouse import clickhouse_client

        client = clickhouse_client(get_settings())
        try:
            rows = client.query("SELECT eval_id, max(event_time), any(model_name), any(model_version), "
                                "any(model_adapter), groupUniqArray(suite), countIf(status = 'failed') "
                                "FROM eval_results FINAL GROUP BY eval_id ORDER BY max(event_time) DESC").result_rows
        finally:
            client.close()
        for eval_id, at, model, version, adapter, suites_run, failed in rows:
            typer.echo(f"{eval_id}  {at:%Y-%m-%d %H:%M}  {model} {version} {adapter}  {','.join(sorted(suites_run))}"
                       + ("  FAILED" if failed else ""))

    @group.command("compare")
    def compare_runs(
        baseline: str = typer.Argument(..., help="Eval id of the baseline."),
        candidate: str = typer.Argument(..., help="Eval id of the candidate."),
        json_output: bool = typer.Option(False, "--json"),
    ) -> None:
        """Baseline against candidate: each metric, the difference with its 95% interval, and the
        regressions (worse, and the interval excludes no difference). Exit code 1 if any."""
        from ...trainers.eval_compare import compare, load_results

        settings = get_settings()
        rows = compare(load_results(settings, baseline), load_results(settings, candidate))
        for row in rows:
            if json_output:
                typer.echo(json.dumps(row.as_dict()))
            else:
                flag = "REGRESSION" if row.regression else ("better" if row.improvement else "")
                typer.echo(f"{row.suite:22} {row.category or '(all)':22} {row.metric:24} {row.baseline:6.1%} -> "
                           f"{row.candidate:6.1%}  {row.difference:+.1%} [{row.ci_low:+.1%}, {row.ci_high:+.1%}]  "
                           f"n={row.baseline_n}/{row.candidate_n}  {flag}")
        regressions = [r for r in rows if r.regression]
        typer.echo(f"{len(regressions)} regression(s) in {len(rows)} metrics", err=True)
        raise typer.Exit(1 if regressions else 0)

    @group.command("frontier")
    def frontier(
        baseline: str = typer.Argument(..., help="Eval id of the predecessor."),
        candidate: str = typer.Argument(..., help="Eval id of the new version."),
        json_output: bool = typer.Option(False, "--json"),
    ) -> None:
        """Frontier risk: the new version against its predecessor on the dangerous-capability
        suite, under each frontier policy in force (the evaluator does this by itself after every
        run with the suite, and pages). Exit code 1 if a line is crossed."""
        from ...streams.evaluator import policies_in_force
        from ...trainers.eval_compare import load_results
        from ...trainers.frontier import assess

        settings = get_settings()
        rows = assess(policies_in_force(settings), load_results(settings, baseline), load_results(settings, candidate))
        if not rows:
            typer.echo("no frontier class measured by both evaluations (suite dangerous_capability)", err=True)
        for a in rows:
            if json_output:
                typer.echo(json.dumps(a.as_dict()))
            else:
                typer.echo(f"{a.policy_id:26} {a.frontier_class:6} {a.baseline_rate:6.1%} -> {a.candidate_rate:6.1%}  "
                           f"{a.uplift:+.1%} [{a.ci_low:+.1%}, {a.ci_high:+.1%}]  n={a.baseline_n}/{a.candidate_n}  "
                           f"line +{a.threshold:.0%}  {'CROSSED' if a.crossed else ''}")
        raise typer.Exit(1 if any(a.crossed for a in rows) else 0)

    @group.command("checkpoints")
    def checkpoints(
        run_dir: Path = typer.Argument(..., help="A training run's output folder (checkpoint-<step> folders)."),
        base: str = typer.Option(..., "--base", help="The base model (folder or store name) the adapters train."),
        suites: str = typer.Option("harmful_behaviours@test,benign_over_refusal", "--suites"),
        limit: int | None = typer.Option(None, "--limit", help="Items per suite."),
        store: bool = typer.Option(True, "--store/--no-store", help="Record numbers and decision in ClickHouse."),
        json_output: bool = typer.Option(False, "--json"),
    ) -> None:
        """Evaluate the base model and every checkpoint; choose by the declared objective (least
        harmful compliance, over-refusal at most the base's + eval.max_over_refusal_increase)."""
        from ...trainers.checkpoint_selection import evaluate_checkpoints

        decision = evaluate_checkpoints(get_settings(), run_dir, base, suites=_split(suites), limit=limit, store=store)
        if json_output:
            typer.echo(json.dumps(decision.as_dict()))
            return
        for s in [decision.baseline, *decision.scores]:
            mark = "*" if decision.chosen is not None and s.path == decision.chosen.path else " "
            typer.echo(f"{mark} {Path(s.path).name:28} harmful {s.harmful_rate:6.1%} (n={s.harmful_n})  "
                       f"over-refusal {s.over_refusal_rate:6.1%} (n={s.over_refusal_n})")
        typer.echo(decision.reason)

    @app.command("evaluator")
    def evaluator(max_jobs: int | None = typer.Option(None, "--max-jobs", help="Stop after this many jobs.")) -> None:
        """Consume rai.eval.requests one job at a time (until SIGTERM); results to eval_results and
        rai.eval.results; a killed job is run again and resumes from its replies."""
        from ...streams.evaluator import serve
        from ..job_cli import run_until_signal

        done = run_until_signal(serve, get_settings(), max_jobs)
        typer.echo(f"evaluator: {done} job(s) done", err=True)
