"""`raiwatch policy validate | apply | list | show | diff`: policies as code (YAML files) and
the live versions on rai.policies."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import typer

from ..errors import RaiwatchError
from ..settings import RaiwatchSettings, get_settings

DIR_HELP = "A folder of policy files, one YAML file per policy (the default set: schemas/policy_sets/default)."


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Policies as code: validate, apply and inspect the policy set.", no_args_is_help=True)
    app.add_typer(group, name="policy")

    @group.command("validate")
    def validate(directory: Path = typer.Argument(..., help=DIR_HELP),
                 offline: bool = typer.Option(False, "--offline",
                                              help="Do not compare versions with the live ones on rai.policies.")) -> None:
        """Check every file: YAML, schema, known checks, one policy id per file, versions above the live ones."""
        policies = _load(directory, None if offline else _live_or_none(get_settings()))
        typer.echo(f"{len(policies)} polic{'y' if len(policies) == 1 else 'ies'} valid: "
                   + ", ".join(f"{p.policy_id}@{p.version}" for p in policies))

    @group.command("apply")
    def apply(directory: Path = typer.Argument(..., help=DIR_HELP)) -> None:
        """Validate, then publish each new or changed policy to rai.policies (running workers use it
        from their next batch)."""
        from ..policies import apply_policies

        settings = get_settings()
        applied = apply_policies(settings, directory)
        if not applied:
            typer.echo("nothing to apply: every policy is live at its version")
        for one in applied:
            typer.echo(f"applied {one.policy.policy_id}@{one.policy.version}"
                       + (f" (was @{one.was.version})" if one.was else " (first on rai.policies)"))

    @group.command("list")
    def list_(json_output: bool = typer.Option(False, "--json")) -> None:
        """The policies workers judge under: the default set, replaced by what rai.policies holds."""
        from ...streams.policy_reader import effective_policies

        live = _live(get_settings())
        policies = effective_policies(live)
        rows = [{"policy_id": p.policy_id, "version": p.version, "pillar": p.pillar.value, "active": p.active,
                 "source": "rai.policies" if p.policy_id in live else "default set", "title": p.title,
                 "checks": [c.check for c in p.checks]} for p in sorted(policies.values(), key=lambda p: p.policy_id)]
        if json_output:
            typer.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            state = "" if row["active"] else " (retired)"
            typer.echo(f"{row['policy_id']:<34} v{row['version']:<4} {row['pillar']:<20} {row['source']:<13} "
                       f"{row['title']}{state}")

    @group.command("show")
    def show(policy_id: str = typer.Argument(..., help="The policy id.")) -> None:
        """A policy in force, as its YAML file would hold it."""
        from ...streams.policy_files import policy_yaml
        from ...streams.policy_reader import effective_policies

        policies = effective_policies(_live(get_settings()))
        if policy_id not in policies:
            raise RaiwatchError(f"no policy {policy_id!r}; known: {', '.join(sorted(policies))}")
        typer.echo(policy_yaml(policies[policy_id]), nl=False)

    @group.command("diff")
    def diff(directory: Path = typer.Argument(..., help=DIR_HELP)) -> None:
        """What `apply DIR` would change, as a unified diff per policy (exit 1 when something differs)."""
        from ...streams.policy_files import policy_yaml
        from ...streams.policy_reader import effective_policies

        settings = get_settings()
        current = effective_policies(_live(settings))
        changed = False
        for policy in _load(directory, None):
            before = policy_yaml(current[policy.policy_id]) if policy.policy_id in current else ""
            after = policy_yaml(policy)
            if before != after:
                changed = True
                typer.echo("".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                        f"live/{policy.policy_id}", f"{directory}/{policy.policy_id}")))
        if not changed:
            typer.echo("no differences")
        raise typer.Exit(1 if changed else 0)

    register_proposals(group)


def register_proposals(group: typer.Typer) -> None:
    @group.command("proposals")
    def proposals(show_all: bool = typer.Option(False, "--all", help="Decided ones too."),
                  diff: bool = typer.Option(False, "--diff", help="Print each proposal's YAML diff.")) -> None:
        """Policy change proposals from the regulation feed (open ones unless --all)."""
        from ..policies import proposal_rows
        from ...streams.policy_proposals import proposal_summary

        rows = [r for r in proposal_rows(get_settings()) if show_all or r["status"] == "open"]
        if not rows:
            typer.echo("no proposals" if show_all else "no open proposals")
        for row in rows:
            typer.echo(proposal_summary(row))
            if diff:
                typer.echo(row["diff"])

    @group.command("approve")
    def approve(proposal_id: str = typer.Argument(...),
                by: str = typer.Option("cli", "--by", help="Who decided (recorded).")) -> None:
        """Publish a proposal's policy version to rai.policies (refused when the policy moved on)."""
        from ..policies import decide_proposal

        policy = decide_proposal(get_settings(), proposal_id, approve=True, by=by)
        typer.echo(f"approved {proposal_id}: {policy.policy_id}@{policy.version} published")

    @group.command("reject")
    def reject(proposal_id: str = typer.Argument(...),
               by: str = typer.Option("cli", "--by", help="Who decided (recorded).")) -> None:
        """Drop a proposal (recorded as rejected)."""
        from ..policies import decide_proposal

        decide_proposal(get_settings(), proposal_id, approve=False, by=by)
        typer.echo(f"rejected {proposal_id}")


def _load(directory: Path, live):
    from ..policies import validate_policies

    return validate_policies(directory, live)


def _live(settings: RaiwatchSettings):
    from ..policies import live_policies

    return live_policies(settings)


def _live_or_none(settings: RaiwatchSettings):
    try:
        return _live(settings)
    except RaiwatchError as exc:
        typer.secho(f"warning: {exc}; versions not compared with the live ones", fg=typer.colors.YELLOW, err=True)
        return None
