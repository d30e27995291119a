"""Regulation updates become policy change proposals, and the policy feed's loop that stores
them (and every published policy version) in ClickHouse and sends the triggers of changed
policies (`triggers.py`).

For a rai.regulations event the mapper (`regulation_mapping.py`) ranks the pillars and the
policies in force of the best two; the proposal changes the first of those policies: the next
version, the article as provenance and cited in the judge rubric, the `review` action added, and
every explicit threshold tightened by `TIGHTEN` (stricter screening while people read the new
rules). It is stored as a readable YAML diff with the full proposed policy
(`policy_proposals`); `raiwatch policy approve ID` publishes it, `reject ID` drops it. A policy
whose provenance already cites the article gets no proposal, so a replayed article does not
propose twice.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..schemas.policies import PolicyCheck, PolicyV1, PolicyV2, RegulationV1
from .clickhouse_sink import ClickHouseTable
from .clickhouse_sinks import ClickHouseSinkHandler, Route
from .policy_files import default_policy_dir, load_policies, policy_yaml
from .policy_reader import policy_of_record, upgrade
from .regulation_mapping import Mapping, RegulationMapper
from .runtime.checkpoint import Checkpoint
from .runtime.context import StageContext
from .runtime.loop import Guarantee, LoopSpec, StageLoop
from .triggers import TRIGGER_COLUMNS, PolicyTriggers

log = logging.getLogger(__name__)

TIGHTEN = 0.05
FEED_FETCH_WAIT_MS = 500  # the feeds are rare and not latency-critical
PROPOSAL_COLUMNS = ["proposal_id", "revision", "event_time", "status", "regulation_id", "reference", "title",
                    "pillars", "pillar_scores", "policy_id", "from_version", "to_version", "diff", "proposed",
                    "decided_by"]
POLICY_COLUMNS = ["policy_id", "version", "event_time", "pillar", "title", "severity", "active", "body"]


@dataclass(frozen=True)
class Proposal:
    """A proposed new version of one policy, caused by one regulation event."""

    proposal_id: str
    regulation: RegulationV1
    mapping: Mapping
    current: PolicyV2
    proposed: PolicyV2

    @property
    def diff(self) -> str:
        return "".join(difflib.unified_diff(policy_yaml(self.current).splitlines(True),
                                            policy_yaml(self.proposed).splitlines(True),
                                            f"{self.current.policy_id}@{self.current.version}",
                                            f"{self.proposed.policy_id}@{self.proposed.version}"))

    def row(self) -> list[Any]:
        return [self.proposal_id, 1, datetime.now(UTC), "open", self.regulation.event_id, self.regulation.reference,
                self.regulation.title, [p.value for p, _ in self.mapping.pillars],
                [score for _, score in self.mapping.pillars], self.current.policy_id, self.current.version,
                self.proposed.version, self.diff, self.proposed.model_dump_json(), ""]


def propose(regulation: RegulationV1, mapping: Mapping, policies: dict[str, PolicyV2]) -> Proposal | None:
    """The proposal for the first policy the mapping names, None when there is none or it
    already cites this regulation."""
    if not mapping.policies:
        return None
    current = policies[mapping.policies[0][0]]
    if re.search(re.escape(regulation.reference) + r"(?!\d)", current.provenance):
        return None
    first_sentence = re.split(r"(?<=[.;:])\s", regulation.text.strip(), maxsplit=1)[0][:300]
    rubric = (current.rubric.strip() + " " if current.rubric.strip() else "") + \
        f"Under {regulation.reference} ({regulation.title}): {first_sentence}"
    checks = [PolicyCheck(check=c.check, threshold=None if c.threshold is None else max(0.05, round(c.threshold - TIGHTEN, 2)),
                          params=c.params) for c in current.checks]
    proposed = current.model_copy(update={
        "version": current.version + 1, "event_id": f"{current.policy_id}@{current.version + 1}",
        "provenance": "; ".join(part for part in (current.provenance, regulation.reference) if part),
        "rubric": rubric, "checks": checks,
        "actions": current.actions if "review" in current.actions else [*current.actions, "review"],
    })
    proposed = PolicyV2.model_validate(proposed.model_dump())  # the same rules as a file
    proposal_id = hashlib.sha256(f"{regulation.event_id}\0{current.policy_id}\0{current.version}".encode()).hexdigest()[:16]
    return Proposal(proposal_id, regulation, mapping, current, proposed)


def policy_row(policy: PolicyV1 | PolicyV2) -> list[Any]:
    """A published policy version for the `policies` table (audit: every version kept)."""
    policy = upgrade(policy)
    return [policy.policy_id, policy.version, policy.ts, policy.pillar.value, policy.title, policy.severity.value,
            int(policy.active), policy.model_dump_json()]


class ProposalRows:
    """`row_of` for rai.regulations: the mapping against the policies in force, the proposal row."""

    def __init__(self, ctx: StageContext, mapper: RegulationMapper | None = None) -> None:
        self.ctx, self.mapper = ctx, mapper or RegulationMapper()

    def __call__(self, regulation: RegulationV1) -> list[Any] | None:
        policies = dict(self.ctx.policies.latest)
        mapping = self.mapper.map(f"{regulation.title}. {regulation.text}", list(policies.values()))
        proposal = propose(regulation, mapping, policies)
        top = ", ".join(f"{p.value} {s:.2f}" for p, s in mapping.pillars[:3])
        if proposal is None:
            log.info("%s maps to %s: no proposal", regulation.reference, top)
            return None
        log.info("%s maps to %s: proposal %s for %s@%d", regulation.reference, top, proposal.proposal_id,
                 proposal.proposed.policy_id, proposal.proposed.version)
        return proposal.row()


class PolicyFeedHandler(ClickHouseSinkHandler):
    """The sink routes, then each changed policy's triggers (`triggers.py`)."""

    def __init__(self, ctx: StageContext, routes: dict[str, list[Route]], dead_letters_for: set[str],
                 triggers: PolicyTriggers) -> None:
        super().__init__(ctx, routes, dead_letters_for)
        self.triggers, self.policies_topic = triggers, ctx.settings.topic("rai.policies")

    async def process(self, records: list[Any], checkpoint: Checkpoint) -> None:
        await super().process(records, checkpoint)
        for record in records:
            if record.topic == self.policies_topic and (policy := policy_of_record(record.value)) is not None:
                await self.triggers.on_policy(policy, record.partition, record.offset, checkpoint)


def policy_feed_loop(ctx: StageContext) -> StageLoop:
    """rai.regulations into proposals, rai.policies into the `policies` table and triggers (runs
    with the stages: it needs the live policies)."""
    settings = ctx.settings
    regulations, policies = settings.topic("rai.regulations"), settings.topic("rai.policies")
    triggers = PolicyTriggers(ctx, ClickHouseTable(settings, "triggers", TRIGGER_COLUMNS, policies),
                              {p.policy_id: p for p in load_policies(default_policy_dir())})
    handler = PolicyFeedHandler(ctx, {
        regulations: [Route(ClickHouseTable(settings, "policy_proposals", PROPOSAL_COLUMNS, regulations),
                            ProposalRows(ctx))],
        policies: [Route(ClickHouseTable(settings, "policies", POLICY_COLUMNS, policies), policy_row)],
    }, {regulations}, triggers)
    spec = LoopSpec(name="policy-feeds", topics=(regulations, policies), group_id=ctx.group_id("policy-feeds"),
                    max_records=100, window_s=1.0, guarantee=Guarantee.AT_LEAST_ONCE, dlq_topic=ctx.topics.dlq,
                    fetch_max_wait_ms=FEED_FETCH_WAIT_MS)
    return StageLoop(settings, spec, handler, on_stall=ctx.on_stall, telemetry=ctx.telemetry)


def proposal_summary(row: dict[str, Any]) -> str:
    """One line per proposal for `raiwatch policy proposals`."""
    pillars = ", ".join(row["pillars"][:3])
    return (f"{row['proposal_id']}  {row['status']:<8} {row['reference']:<24} -> {row['policy_id']}@{row['to_version']}"
            f"  (pillars: {pillars})")


def proposed_policy(row: dict[str, Any]) -> PolicyV2:
    return PolicyV2.model_validate(json.loads(row["proposed"]))
