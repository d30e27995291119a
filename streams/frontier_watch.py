"""After an evaluation with the dangerous-capability suite: compare the model version with its
predecessor under every frontier policy (`trainers/frontier.py`), and when one crosses its
line, page (a critical alert of kind "frontier" on rai.alerts) and ask people to look (one
review request per complying reply of the new version in that class, on rai.reviews). The
worker's sinks store both in ClickHouse like every other alert and review.

The predecessor, in this order: the baseline declared for `model:version` (the regression
settings' `baselines`, then the adapter registry's promotions, as the regression watch reads
them); else the newest earlier evaluation of the same model name under another version or
adapter. Ids are deterministic (candidate and baseline eval ids, policy version, item), so an
evaluation run twice raises nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from ..ops.settings import RaiwatchSettings
from ..schemas.alerts import AlertV1
from ..schemas.common import ModelRef, Severity
from ..schemas.policies import PolicyV2
from ..schemas.reviews import ReviewRequestV1
from ..trainers.eval_compare import load_results
from ..trainers.eval_suites import FRONTIER_SUITE
from ..trainers.evaluation import EvalRun, ScoredItem
from ..trainers.frontier import METRIC, FrontierAssessment, assess, frontier_policies

log = logging.getLogger(__name__)


def version_key(model: ModelRef) -> str:
    """`version+adapter` as the regression watch and the registry name versions."""
    return f"{model.version}+{model.adapter}" if model.adapter else model.version


def declared_baseline(settings: RaiwatchSettings, model: ModelRef) -> str | None:
    key = f"{model.name}:{version_key(model)}"
    if key in settings.regression.baselines:
        return settings.regression.baselines[key]
    try:
        from ..models.adapter_registry import AdapterRegistry

        return AdapterRegistry(settings).baselines().get(key)
    except Exception as exc:  # noqa: BLE001 - no registry table yet: fall back to the previous evaluation
        log.debug("adapter registry not readable: %s", exc)
        return None


def predecessor_eval(settings: RaiwatchSettings, model: ModelRef, eval_id: str) -> str | None:
    """The eval id of the predecessor's newest dangerous-capability evaluation, or None."""
    from ..schemas.clickhouse import clickhouse_client

    baseline = declared_baseline(settings, model)
    client = clickhouse_client(settings)
    try:
        rows = client.query(
            "SELECT eval_id, any(model_version), any(model_adapter), max(event_time) AS at FROM eval_results FINAL "
            "WHERE suite = {s:String} AND model_name = {m:String} AND status = 'ok' AND eval_id != {e:String} "
            "GROUP BY eval_id ORDER BY at DESC",
            parameters={"s": FRONTIER_SUITE, "m": model.name, "e": eval_id}).result_rows
    finally:
        client.close()
    mine = version_key(model)
    for other_id, version, adapter, _ in rows:
        key = f"{version}+{adapter}" if adapter else version
        if (baseline is not None and key == baseline) or (baseline is None and key != mine):
            return str(other_id)
    return None


def frontier_alert(assessment: FrontierAssessment, model: ModelRef, eval_id: str, baseline_eval: str) -> AlertV1:
    key = f"frontier|{assessment.policy_id}|{model.name}|{version_key(model)}"
    alert_id = hashlib.sha256(f"{key}|{eval_id}|{baseline_eval}|{assessment.policy_version}".encode()).hexdigest()[:32]
    now = datetime.now(UTC)
    a = assessment
    summary = (f"frontier risk ({a.frontier_class}): {model.name} {version_key(model)} complies with "
               f"{a.candidate_rate:.0%} of dangerous-capability requests vs {a.baseline_rate:.0%} for its predecessor "
               f"(+{a.uplift:.0%} [{a.ci_low:+.0%}, {a.ci_high:+.0%}], n={a.candidate_n}/{a.baseline_n}; "
               f"line {a.threshold:.0%}); eval {eval_id} vs {baseline_eval}")
    return AlertV1(event_id=alert_id, ts=now, alert_id=alert_id, kind="frontier", dedup_key=key, window_start=now,
                   model=model, pillar=None, category=a.frontier_class, severity=Severity.CRITICAL,
                   policy_id=a.policy_id, policy_version=a.policy_version, summary=summary, details=a.numbers())


def frontier_reviews(assessment: FrontierAssessment, policy: PolicyV2, model: ModelRef, eval_id: str,
                     scored: Sequence[ScoredItem]) -> list[ReviewRequestV1]:
    """One review per reply of the new version that complied with a request of the class."""
    from ..models.rules import mask_sensitive

    out = []
    for s in scored:
        if s.item.suite != FRONTIER_SUITE or s.item.category != assessment.frontier_class or not s.outcomes.get(METRIC):
            continue
        request_id = f"eval:{eval_id}:{s.item.item_id}"
        review_id = hashlib.sha256(f"frontier\0{policy.policy_id}\0{policy.version}\0{request_id}".encode()).hexdigest()[:24]
        out.append(ReviewRequestV1(
            event_id=review_id, review_id=review_id, verdict_id=f"frontier:{eval_id}:{s.item.item_id}",
            request_id=request_id, tenant=f"eval:{model.name}", pillar=policy.pillar, category=assessment.frontier_class,
            reason=f"frontier:{policy.policy_id}: {model.name} {version_key(model)} complied "
                   f"(uplift {assessment.uplift:+.0%} over its predecessor)",
            prompt_redacted=mask_sensitive(s.item.prompt), output_redacted=mask_sensitive(s.reply)))
    return out


async def _publish(settings: RaiwatchSettings, alerts: Sequence[AlertV1], reviews: Sequence[ReviewRequestV1]) -> None:
    from ..ops.publish import publish_events

    await publish_events(settings, "rai.alerts", [(alert.dedup_key, alert) for alert in alerts])
    if reviews:
        await publish_events(settings, "rai.reviews", [(review.review_id, review) for review in reviews])


def watch_frontier(settings: RaiwatchSettings, run: EvalRun, policies: Sequence[PolicyV2]) -> list[FrontierAssessment]:
    """Assess a finished run against its predecessor; publish what crossed. Returns every
    assessment (crossed or not); none when the run has no frontier items or no predecessor."""
    if not frontier_policies(policies) or not any(s.item.suite == FRONTIER_SUITE for s in run.scored):
        return []
    baseline_eval = predecessor_eval(settings, run.model, run.eval_id)
    if baseline_eval is None:
        log.warning("frontier: no predecessor evaluation of %s to compare %s with", run.model.name, run.eval_id)
        return []
    assessments = assess(policies, load_results(settings, baseline_eval), load_results(settings, run.eval_id))
    by_id = {p.policy_id: p for p in policies}
    alerts, reviews = [], []
    for a in assessments:
        log.warning("frontier %s: %s %s vs eval %s: %.1f%% -> %.1f%% (line +%.0f%%)%s", a.policy_id, run.model.name,
                    version_key(run.model), baseline_eval, 100 * a.baseline_rate, 100 * a.candidate_rate,
                    100 * a.threshold, " CROSSED" if a.crossed else "")
        if a.crossed:
            alerts.append(frontier_alert(a, run.model, run.eval_id, baseline_eval))
            reviews += frontier_reviews(a, by_id[a.policy_id], run.model, run.eval_id, run.scored)
    if alerts:
        asyncio.run(_publish(settings, alerts, reviews))
    return assessments
