"""`raiwatch train data | dpo`, `raiwatch adapters list | show | promote | rollback` and
`raiwatch trainer`: preference data, DPO with LoRA, the adapter registry, the training worker."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..settings import get_settings


def register(app: typer.Typer) -> None:
    train = typer.Typer(help="Preference data and DPO with a LoRA adapter (manual runs).", no_args_is_help=True)
    app.add_typer(train, name="train")
    adapters = typer.Typer(help="The adapter registry: list, show, promote, roll back.", no_args_is_help=True)
    app.add_typer(adapters, name="adapters")

    @train.command("data")
    def data(out: Path = typer.Option(Path("preferences"), "--out", help="Folder for preferences-<version>.jsonl."),
             traffic: bool = typer.Option(False, "--traffic", help="Add the violations stored in ClickHouse.")) -> None:
        """Build, deduplicate, split and version the preference pairs; print the version."""
        from collections import Counter

        from ...trainers.preference_data import finalize, installed_pairs, save_pairs, traffic_pairs

        pairs, version = finalize([*installed_pairs(), *(traffic_pairs(get_settings()) if traffic else [])])
        path = save_pairs(pairs, version, out)
        counts = Counter((p.kind, p.split) for p in pairs)
        typer.echo(f"{version}: {len(pairs)} pairs -> {path}")
        for (kind, split), n in sorted(counts.items()):
            typer.echo(f"  {kind:8} {split:10} {n}")

    @train.command("dpo")
    def dpo(
        base: str = typer.Option("smollm2-135m-instruct", "--base", help="Base model folder or store name."),
        out: Path = typer.Option(..., "--out", help="Run folder (checkpoint-<step>/ adapters; a rerun resumes)."),
        steps: int = typer.Option(60, "--steps"),
        batch_size: int = typer.Option(4, "--batch-size"),
        learning_rate: float = typer.Option(1e-3, "--lr"),
        sft_weight: float = typer.Option(1.0, "--sft-weight", help="Weight of the SFT loss on the chosen replies "
                                                                  "beside DPO's (0: DPO only)."),
        save_steps: int = typer.Option(20, "--save-steps"),
        probe_every: int = typer.Option(0, "--probe-every", help="Probe harmful compliance and over-refusal every N steps."),
        traffic: bool = typer.Option(False, "--traffic", help="Add the violations stored in ClickHouse to the data."),
    ) -> None:
        """Train a LoRA adapter with DPO on the preference pairs (progress bar; the base weights are
        not changed); then `raiwatch eval checkpoints OUT --base BASE` chooses a checkpoint."""
        from ...trainers.dpo import DPORunConfig, train_dpo
        from ...trainers.preference_data import finalize, installed_pairs, traffic_pairs

        settings = get_settings()
        pairs, version = finalize([*installed_pairs(), *(traffic_pairs(settings) if traffic else [])])
        config = DPORunConfig(base_model=base, max_steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                              sft_weight=sft_weight, save_steps=save_steps, probe_every=probe_every)
        summary = train_dpo(settings, config, pairs, out)
        typer.echo(json.dumps({"data_version": version, **summary}, default=str))

    @train.command("reward")
    def reward(
        base: str = typer.Option("smollm2-135m-instruct", "--base", help="Base model folder or store name."),
        out: Path = typer.Option(..., "--out", help="Folder for the reward adapter."),
        steps: int = typer.Option(60, "--steps"),
        batch_size: int = typer.Option(8, "--batch-size"),
    ) -> None:
        """Train the auxiliary reward model (LoRA) on the preference pairs; print its held-out
        pairwise accuracy. Use it as the check `reward.model` with `adapter=OUT`."""
        from ...trainers.preference_data import finalize, installed_pairs
        from ...trainers.reward_model import RewardRunConfig, train_reward

        pairs, version = finalize(installed_pairs())
        summary = train_reward(get_settings(), RewardRunConfig(base_model=base, max_steps=steps, batch_size=batch_size),
                               pairs, out)
        typer.echo(json.dumps({"data_version": version, **summary}, default=str))

    @adapters.command("list")
    def list_adapters() -> None:
        """Every adapter with its status, tenants and numbers."""
        from ...models.adapter_registry import AdapterRegistry

        for a in AdapterRegistry(get_settings()).all():
            harm = a.metrics.get("candidate_harmful_rate")
            typer.echo(f"{a.adapter_id:32} {a.status:9} {a.model_name} {a.version}  tenants={','.join(a.tenants) or 'all'}"
                       + (f"  harmful={harm:.1%}" if harm is not None else ""))

    @adapters.command("show")
    def show(adapter_id: str) -> None:
        from ...models.adapter_registry import AdapterRegistry

        record = AdapterRegistry(get_settings()).get(adapter_id)
        typer.echo(json.dumps(record.__dict__, default=str, indent=2))

    @adapters.command("promote")
    def promote(adapter_id: str, reason: str = typer.Option("promoted by hand", "--reason")) -> None:
        """Serve this adapter (the promoted one it replaces is retired)."""
        from ...models.adapter_registry import AdapterRegistry

        record = AdapterRegistry(get_settings()).promote(adapter_id, reason)
        typer.echo(f"{record.adapter_id} promoted")

    @adapters.command("rollback")
    def rollback(model_name: str, tenant: list[str] = typer.Option([], "--tenant")) -> None:
        """Retire the promoted adapter of a model (and tenants); promote the one before it."""
        from ...models.adapter_registry import AdapterRegistry

        record = AdapterRegistry(get_settings()).rollback(model_name, tuple(tenant))
        typer.echo(f"{record.adapter_id} promoted again")

    @app.command("trainer")
    def trainer(max_jobs: int | None = typer.Option(None, "--max-jobs")) -> None:
        """Consume rai.train.requests one job at a time (until SIGTERM): data, DPO, checkpoint
        selection, the promotion gate, the registry; a killed job resumes from its checkpoint."""
        from ...streams.trainer_worker import serve
        from ..job_cli import run_until_signal

        typer.echo(f"trainer: {run_until_signal(serve, get_settings(), max_jobs)} job(s) done", err=True)
