"""Triggers: a changed policy sets re-evaluation, and where the policy says so retraining, in
motion.

When a policy version arrives on rai.policies that is not the installed default, the
policy-feeds loop asks for an evaluation of every model seen in traffic recently
(rai.eval.requests: the suites of the policy's pillar, the policy versions to score under) and,
for a policy with `retrain_on_change`, a DPO job per base model (rai.train.requests). Ids are
deterministic (cause + model), so a retried batch sends the same request again and downstream
drops it; the trigger log (ClickHouse `triggers`) is checked first, so a request already sent is
not sent again, and it says why each request exists. At most
`triggers.max_per_cause_per_hour` requests per policy go out per hour (whatever its versions);
more are logged as held back.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..schemas.common import ModelRef, Pillar
from ..schemas.evaluation import EvalRequestV1
from ..schemas.policies import PolicyV2
from ..schemas.training import TrainRequestV1
from .runtime.checkpoint import Checkpoint
from .runtime.sink import SinkRow

log = logging.getLogger(__name__)

PILLAR_SUITES: dict[Pillar, list[str]] = {
    Pillar.SAFETY: ["harmful_behaviours", "benign_over_refusal"],
    Pillar.PRIVACY_SECURITY: ["injection_jailbreaks", "pii_leakage"],
    Pillar.FAIRNESS: ["bbq_bias", "toxigen"],
    Pillar.VERACITY_ROBUSTNESS: ["grounded_qa", "paraphrase_consistency"],
    Pillar.EXPLAINABILITY: ["refusal_reasons"],
    Pillar.CONTROLLABILITY: ["benign_over_refusal", "system_prompt_leakage"],
    Pillar.GOVERNANCE: ["policy_coverage"],
    Pillar.TRANSPARENCY: ["ai_disclosure"],
}
TRIGGER_COLUMNS = ["trigger_id", "event_time", "cause", "kind", "request_id", "model_name", "model_version",
                   "model_adapter", "status", "detail"]


@dataclass(frozen=True)
class Trigger:
    """One request a cause asks for."""

    kind: str  # "eval" or "train"
    cause: str
    model: ModelRef
    event: EvalRequestV1 | TrainRequestV1

    @property
    def request_id(self) -> str:
        return self.event.eval_id if isinstance(self.event, EvalRequestV1) else self.event.job_id


def _id(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def policy_triggers(policy: PolicyV2, models: list[ModelRef], policy_versions: dict[str, int]) -> list[Trigger]:
    """What a new policy version asks for: an evaluation per model, and a training job per base
    model when the policy retrains on change."""
    cause = f"policy:{policy.policy_id}@{policy.version}"
    out = []
    for model in models:
        ref = f"{model.name}@{model.version}+{model.adapter}"
        eval_id = _id(cause, ref, "eval")
        out.append(Trigger("eval", cause, model, EvalRequestV1(
            event_id=eval_id, eval_id=eval_id, model=model, suites=PILLAR_SUITES[policy.pillar], cause=cause,
            policy_versions=policy_versions)))
    if policy.retrain_on_change:
        for name, version in sorted({(m.name, m.version) for m in models}):
            job_id = _id(cause, f"{name}@{version}", "train")
            out.append(Trigger("train", cause, ModelRef(name=name, version=version), TrainRequestV1(
                event_id=job_id, job_id=job_id, method="dpo", base_model=ModelRef(name=name, version=version),
                cause=cause, policy_versions=policy_versions)))
    return out


def risk_triggers(category: str, pillar: Pillar, raised_ms: int, models: list[ModelRef]) -> list[Trigger]:
    """What a raised risk level asks for: an evaluation of every model on the pillar's suites."""
    cause = f"risk:{category}@{raised_ms}"
    out = []
    for model in models:
        eval_id = _id(cause, f"{model.name}@{model.version}+{model.adapter}", "eval")
        out.append(Trigger("eval", cause, model, EvalRequestV1(event_id=eval_id, eval_id=eval_id, model=model,
                                                               suites=PILLAR_SUITES[pillar], cause=cause)))
    return out


def redteam_triggers(pillar: Pillar, batch: int, models: list[ModelRef]) -> list[Trigger]:
    """What a batch of new red-team examples of a pillar asks for: every model on its suites
    (the collected examples are part of every suite run)."""
    cause = f"redteam:{pillar.value}@{batch}"
    return [Trigger("eval", cause, model, EvalRequestV1(
        event_id=(eval_id := _id(cause, f"{model.name}@{model.version}+{model.adapter}", "eval")), eval_id=eval_id,
        model=model, suites=[*PILLAR_SUITES[pillar], "redteam_collected"], cause=cause)) for model in models]


class TriggerSender:
    """Sends triggers with a checkpoint: skips what the log says was sent, holds back what is
    over the hourly limit of its cause, logs every one (sink rows, stored at commit)."""

    def __init__(self, settings: Any, log_table: Any) -> None:
        self.settings, self.log_table = settings, log_table

    async def send(self, triggers: list[Trigger], limit_prefix: str, partition: int, offset: int,
                   checkpoint: Checkpoint) -> int:
        """Returns how many were emitted."""
        if not triggers:
            return 0
        sent_before = self._already_logged([t.request_id for t in triggers])
        budget = self.settings.triggers.max_per_cause_per_hour - self._recent_count(limit_prefix)
        rows, emitted = [], 0
        for trigger in triggers:
            if trigger.request_id in sent_before:
                continue
            status = "emitted" if budget > 0 else "held_back"
            if status == "emitted":
                topic = self.settings.topic("rai.eval.requests" if trigger.kind == "eval" else "rai.train.requests")
                await checkpoint.send(topic, trigger.event.model_dump_json().encode(), key=trigger.request_id.encode())
                budget, emitted = budget - 1, emitted + 1
            rows.append(SinkRow(partition, offset, [
                _id(trigger.request_id, status), datetime.now(UTC), trigger.cause, trigger.kind, trigger.request_id,
                trigger.model.name, trigger.model.version, trigger.model.adapter, status,
                "" if status == "emitted" else f"more than {self.settings.triggers.max_per_cause_per_hour} per hour"]))
        checkpoint.write(self.log_table, rows)
        return emitted

    def recent_models(self) -> list[ModelRef]:
        """Models seen in traffic within `triggers.model_lookback_h`."""
        since = datetime.now(UTC) - timedelta(hours=self.settings.triggers.model_lookback_h)
        rows = self._client().query(
            "SELECT DISTINCT model_name, model_version, model_adapter FROM verdicts WHERE event_time >= {since:DateTime64(3)} "
            "ORDER BY model_name, model_version, model_adapter", parameters={"since": since}).result_rows
        return [ModelRef(name=name, version=version, adapter=adapter) for name, version, adapter in rows]

    def _client(self) -> Any:
        from ..schemas.clickhouse import clickhouse_client

        return clickhouse_client(self.settings)

    def _already_logged(self, request_ids: list[str]) -> set[str]:
        rows = self._client().query("SELECT DISTINCT request_id FROM triggers WHERE status = 'emitted' "
                                    "AND request_id IN {ids:Array(String)}", parameters={"ids": request_ids}).result_rows
        return {row[0] for row in rows}

    def _recent_count(self, cause_prefix: str) -> int:
        """Requests emitted in the last hour for causes starting with `cause_prefix`."""
        since = datetime.now(UTC) - timedelta(hours=1)
        return self._client().query(
            "SELECT count() FROM triggers FINAL WHERE startsWith(cause, {prefix:String}) AND status = 'emitted' "
            "AND event_time >= {since:DateTime64(3)}", parameters={"prefix": cause_prefix, "since": since}).result_rows[0][0]


class PolicyTriggers:
    """A changed policy's triggers, sent with the policy-feeds loop's checkpoint."""

    def __init__(self, ctx: Any, log_table: Any, defaults: dict[str, PolicyV2]) -> None:
        self.ctx, self.defaults = ctx, defaults
        self.sender = TriggerSender(ctx.settings, log_table) if log_table is not None else None

    def is_change(self, policy: PolicyV2) -> bool:
        """Not the installed default published as it is (applying the default set is no change)."""
        default = self.defaults.get(policy.policy_id)
        return default is None or policy.version > default.version

    async def on_policy(self, policy: PolicyV2, partition: int, offset: int, checkpoint: Checkpoint) -> None:
        if not self.is_change(policy):
            return
        versions = {p.policy_id: p.version for p in self.ctx.policies.latest.values()}
        versions[policy.policy_id] = max(policy.version, versions.get(policy.policy_id, 0))
        triggers = policy_triggers(policy, self.sender.recent_models(), versions)
        if not triggers:
            log.info("policy %s@%d changed; no model in recent traffic to re-evaluate", policy.policy_id, policy.version)
        await self.sender.send(triggers, f"policy:{policy.policy_id}@", partition, offset, checkpoint)
