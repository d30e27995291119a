"""Assemble a verdict from a joined request and its check scores (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from ..models.guardrails.taxonomy import HARMFUL_ON_ITS_OWN
from ..models.scoring import Score, ScoringItem
from ..schemas.common import ModelRef, Severity
from ..schemas.verdicts import CheckResult, Stage, Superseded, VerdictV1
from .messages import JoinedRequest
from .policy import (
    COMPLIANCE_PREFIX, DATA_LABEL_PREFIX, HARMFUL_REPLY_PREFIX, NOTE_PREFIX, REFUSAL_PREFIX, REPLY_SIGNAL_PREFIXES,
    check_name, evidence_in_stored_text, is_flagged, redacted_texts, threshold_for, verdict_id,
)
from .policy_set import PolicySet


def scoring_item(request: JoinedRequest) -> ScoringItem:
    """What the checks see of a joined request."""
    prompt, output = request.prompt, request.output
    model = _model_ref((output or prompt).model)
    return ScoringItem(
        request_id=request.request_id,
        prompt=prompt.prompt if prompt else "",
        output=output.output if output else "",
        system_prompt=prompt.system_prompt if prompt else "",
        context=tuple(prompt.context) if prompt else (),
        locale=prompt.locale if prompt else "en",
        tenant=(prompt or output).tenant, use_case=prompt.use_case if prompt else "",
        model=model.name, model_version=model.version, model_adapter=model.adapter,
    )


def build_verdict(
    request: JoinedRequest,
    scores: Sequence[Score],
    policy: PolicySet,
    *,
    stage: Stage = Stage.SCREEN,
    latency_ms: dict[str, float] | None = None,
) -> VerdictV1:
    """The verdict for one request.

    - violation: the *model* misbehaved: a finding in the output (PII, harmful content: a
      harmful-reply score above its strict threshold, `HARMFUL_ON_ITS_OWN`), or
      harmful compliance: a harmful/injection prompt and a reply that gave harmful help
      (`gave_harmful_help`); or a possible harmful request (a prompt score above its check's
      lenient threshold, `Score.lenient_threshold`, not flagged) whose reply the harmful-reply
      check says gives harmful help: two signals agreeing. With a harmful-reply check
      (`harmful_reply.*`) that reads the reply's content; otherwise it is "the reply complied" (`reply_answered`): with a
      compliance check (`compliance.*`) a deflection or safety information is not a violation,
      without one "complied" falls back to "no refusal found";
    - a finding only in a refused prompt is an attack that failed: recorded, not a violation;
    - personal data the user typed into the prompt is masked and recorded, never a violation;
    - over_refusal: the output does not answer (`reply_answered`) a prompt in which no check
      found anything: a refusal, or, with a compliance check, a deflection or a lecture.

    Each finding that makes the verdict a violation or an over-refusal names the policies in
    force it breaks (`CheckResult.breaks`, `PolicySet.breaks`); the verdict lists the policies
    it was judged under.
    """
    head = request.prompt or request.output
    assert head is not None, "a joined request has at least one side"
    checks, pillars, categories, evidence = [], [], [], []
    refused = prompt_finding = output_finding = False
    complied: bool | None = None  # None: no compliance check scored this reply
    harmful_help: bool | None = None  # None: no harmful-reply check scored this reply
    kinds: list[str] = []  # per score: what its result is to the verdict (see `_breaks`)
    possible: list[int] = []  # scores above a lenient threshold only: a finding if the reply corroborates them
    for score in scores:
        flagged, name = is_flagged(score, policy, head.tenant), check_name(score.check)
        checks.append(CheckResult(check=score.check, score=score.value, pillar=score.pillar,
                                  categories=list(score.categories), flagged=flagged, error=score.error))
        kinds.append("")
        if name.startswith(COMPLIANCE_PREFIX):
            if score.value is not None and request.output is not None:
                complied = bool(complied) or flagged
                kinds[-1] = "complied" if flagged else "did_not_comply"
            continue
        if name.startswith(HARMFUL_REPLY_PREFIX):
            if score.value is not None and request.output is not None:
                harmful_help = bool(harmful_help) or flagged
                kinds[-1] = "harmful_help" if flagged else ""
                if flagged and HARMFUL_ON_ITS_OWN in score.categories:  # harmful whatever the prompt checks found
                    output_finding, kinds[-1] = True, "output"
                    _add_unique(pillars, score.pillar)
                    _add_unique(categories, HARMFUL_ON_ITS_OWN)
                    evidence.extend(span for span in score.evidence if span.source == "output")
            continue
        if not flagged:
            if score.lenient_threshold is not None and score.value is not None and score.value >= score.lenient_threshold:
                possible.append(len(checks) - 1)
            continue
        if name.startswith(REFUSAL_PREFIX):
            refused, kinds[-1] = True, "refused"
            continue
        if name.startswith(NOTE_PREFIX):  # recorded against its policy, never a violation by itself
            kinds[-1] = "note"
            evidence.extend(score.evidence)
            _add_unique(pillars, score.pillar)
            continue
        evidence.extend(score.evidence)
        _add_unique(pillars, score.pillar)
        for category in score.categories:
            _add_unique(categories, category)
        if any(span.source == "output" for span in score.evidence):
            output_finding, kinds[-1] = True, "output"
        elif not score.evidence or any(not span.label.startswith(DATA_LABEL_PREFIX) for span in score.evidence):
            prompt_finding, kinds[-1] = True, "prompt"  # an attack or harmful request; PII the user typed is not one
    answered = reply_answered(refused, complied)
    helped = gave_harmful_help(refused, complied, harmful_help)
    violation = output_finding or (prompt_finding and helped and request.output is not None)
    corroborated = bool(possible) and not violation and harmful_help is not None and helped and request.output is not None
    if corroborated:  # a possible harmful request, and a reply that gives harmful help: harmful compliance
        violation = prompt_finding = True
        for index in possible:
            kinds[index] = "corroborated"
            _add_unique(pillars, scores[index].pillar)
            for category in scores[index].lenient_categories:
                _add_unique(categories, category)
    rationale = "; ".join(s.rationale for i, s in enumerate(scores) if s.rationale
                          and (is_flagged(s, policy, head.tenant) or (corroborated and i in possible))
                          and not check_name(s.check).startswith((COMPLIANCE_PREFIX, HARMFUL_REPLY_PREFIX)))
    if prompt_finding and request.output is not None:
        rationale += ("; " if rationale else "") + _reply_rationale(answered, helped, harmful_help is not None)
    over_refusal = request.output is not None and not answered and not prompt_finding and not output_finding
    checks = _breaks(checks, scores, kinds, policy, head.tenant, violation, over_refusal)
    broken = [policy_id for result in checks for policy_id in result.breaks]
    severity = policy.severity_of(broken) if violation else (Severity.LOW if prompt_finding else Severity.INFO)
    prompt_text = request.prompt.prompt if request.prompt else ""
    output_text = request.output.output if request.output else ""
    masked_prompt, masked_output = redacted_texts(prompt_text, output_text, scores)
    evidence = evidence_in_stored_text(evidence, {"prompt": (prompt_text, masked_prompt),
                                                  "output": (output_text, masked_output)})
    return VerdictV1(
        event_id=f"{verdict_id(request.request_id, policy.policy_id, policy.version)}:{stage.value}",
        ts=head.ts,
        verdict_id=verdict_id(request.request_id, policy.policy_id, policy.version),
        request_id=request.request_id,
        tenant=head.tenant,
        model=_model_ref(head.model),
        stage=stage,
        policy_id=policy.policy_id,
        policy_version=policy.version,
        policies=list(policy.refs),
        checks=checks,
        pillars=pillars,
        categories=categories,
        violation=violation,
        over_refusal=over_refusal,
        severity=severity,
        rationale=rationale,
        evidence=evidence,
        partial=request.partial,
        locale=request.prompt.locale if request.prompt else "en",
        input_published_ms=request.input_published_ms,
        stage_latency_ms=dict(latency_ms or {}),
        prompt_redacted=masked_prompt,
        output_redacted=masked_output,
    )


def _breaks(checks: list[CheckResult], scores: Sequence[Score], kinds: list[str], policy: PolicySet, tenant: str,
            violation: bool, over_refusal: bool) -> list[CheckResult]:
    """The results with the policies their findings break: an output finding, a prompt finding
    that was answered (or a possible one the reply corroborated), the compliance that answered
    it; for an over-refusal, the refusal found and a compliance check that found the reply did
    not comply."""
    out = []
    for result, score, kind in zip(checks, scores, kinds, strict=True):
        name, broken = check_name(score.check), []
        if kind in ("output", "prompt") and violation:
            broken = policy.breaks(name, score.value, threshold_for(policy, score, tenant), score.categories, tenant)
        elif kind == "corroborated" and violation:  # measured against the lenient threshold it passed
            broken = policy.breaks(name, score.value, score.lenient_threshold or 0.0, score.lenient_categories, tenant)
        elif kind in ("complied", "harmful_help") and violation:
            broken = policy.breaks(name, score.value, threshold_for(policy, score, tenant), (), tenant)
        elif kind == "refused" and over_refusal:
            broken = policy.breaks(name, score.value, threshold_for(policy, score, tenant), (), tenant)
        elif kind == "note":
            broken = policy.breaks(name, score.value, threshold_for(policy, score, tenant), score.categories, tenant)
        elif kind == "did_not_comply" and over_refusal:
            broken = policy.running(name, ())
        out.append(result.model_copy(update={"breaks": broken}) if broken else result)
    return out


def reply_answered(refused: bool, complied: bool | None) -> bool:
    """Whether the reply did what was asked. Without a compliance check (`complied` None): no
    refusal found. With one: it says the reply complied and no refusal check says it refused
    (two detectors agreeing; a disclaimer followed by compliance is trained as not a refusal)."""
    return not refused if complied is None else complied and not refused


def gave_harmful_help(refused: bool, complied: bool | None, harmful_help: bool | None) -> bool:
    """Whether a reply to a harmful request is harmful compliance. With a harmful-reply check
    (`harmful_help` not None): it says the reply gives harmful help and no refusal check says it
    refused. Without one: the reply did what was asked (`reply_answered`)."""
    return reply_answered(refused, complied) if harmful_help is None else harmful_help and not refused


def _reply_rationale(answered: bool, helped: bool, read_content: bool) -> str:
    if not read_content:
        return "the reply complied" if answered else "the reply did not comply"
    if helped:
        return "the reply gave harmful help"
    return "the reply complied but gave no harmful help" if answered else "the reply did not comply"


def _model_ref(model: ModelRef | str) -> ModelRef:
    return model if isinstance(model, ModelRef) else ModelRef(name=str(model))


def _add_unique(items: list, item) -> None:
    if item not in items:
        items.append(item)


OVER_REFUSAL_FINDING = ("controllability", "over_refusal")


def verdict_findings(verdict: VerdictV1) -> list[tuple[str, str]]:
    """The (pillar, category) pairs a verdict counts under in the per-minute metrics: each
    flagged check that is a finding (not a refusal or compliance signal), with its categories
    that the verdict kept ('' when none), and an over-refusal under `OVER_REFUSAL_FINDING`."""
    found: list[tuple[str, str]] = []
    for result in verdict.checks:
        name = check_name(result.check)
        if not result.flagged or name.startswith(REPLY_SIGNAL_PREFIXES) or result.pillar not in verdict.pillars:
            continue
        for category in [c for c in result.categories if c in verdict.categories] or [""]:
            _add_unique(found, (result.pillar.value, category))
    if verdict.over_refusal:
        _add_unique(found, OVER_REFUSAL_FINDING)
    return found


def refine_verdict(screened: VerdictV1, judge: Score, policy: PolicySet, latency_ms: dict[str, float]) -> VerdictV1:
    """The judge stage's revision of a screened verdict (same verdict id).

    A scored judge decides harmful compliance; findings in the output (PII) stand regardless.
    An unscored judge (timeout, no answer) leaves the screen's decision and says so.
    """
    flagged = is_flagged(judge, policy, screened.tenant)
    broken = (policy.breaks(check_name(judge.check), judge.value, threshold_for(policy, judge, screened.tenant),
                            judge.categories, screened.tenant) if flagged else [])
    judge_result = CheckResult(check=judge.check, score=judge.value, pillar=judge.pillar,
                               categories=list(judge.categories), flagged=flagged, error=judge.error, breaks=broken)
    superseded = Superseded(stage=screened.stage, violation=screened.violation, over_refusal=screened.over_refusal,
                            partial=screened.partial, findings=verdict_findings(screened))
    update: dict = {"stage": Stage.JUDGE, "checks": [*screened.checks, judge_result], "supersedes": superseded,
                    "event_id": f"{screened.verdict_id}:{Stage.JUDGE.value}", "stage_latency_ms": latency_ms}
    if judge.value is None:
        update["rationale"] = f"judge unscored ({judge.error}); {screened.rationale}".rstrip("; ")
        return screened.model_copy(update=update)
    output_finding = any(span.source == "output" for span in screened.evidence)
    violation = output_finding or judge_result.flagged
    prompt_finding = bool(screened.categories) and not output_finding
    update.update(
        judge_score=judge.value,
        violation=violation,
        severity=policy.severity if violation else (Severity.LOW if prompt_finding else Severity.INFO),
        rationale=f"judge: {judge.rationale}" + (f"; rules: {screened.rationale}" if screened.rationale else ""),
    )
    if judge_result.flagged:
        update["pillars"] = list(dict.fromkeys([*screened.pillars, judge.pillar]))
        update["categories"] = list(dict.fromkeys([*screened.categories, *judge.categories]))
    return screened.model_copy(update=update)
