"""The README's main job, `raiwatch demo`, end to end on the real stack: every request is one
verdict, every malformed message one dead letter; screening with the trained tier, the default
policy set finds real cases for all eight pillars in the demo traffic, and the sampled share
routed to the SmolLM2 judge is judged (scored, not merely routed)."""

from __future__ import annotations

import json

import pytest

from raiwatch.ops.demo import run_demo
from raiwatch.schemas.common import Pillar

pytestmark = pytest.mark.integration


def test_the_demo_finds_every_pillar_with_the_trained_tier_and_the_judge(stack_settings, capsys) -> None:
    run_demo(stack_settings, requests=400, malformed=5, seed=3, timeout_s=300, json_output=True,
             tier="trained", judge_share=0.03)
    summary = json.loads(capsys.readouterr().out)
    assert (summary["verdicts"], summary["dead_letters"], summary["tier"]) == (400, 5, "trained")
    broken = {policy: count for policy, count in summary["by_policy"]}
    assert set(broken) >= {"privacy.personal-data", "safety.harmful-compliance", "controllability.over-refusal",
                           "controllability.system-prompt-leakage", "transparency.ai-disclosure",
                           "veracity.groundedness", "explainability.refusal-reasons",
                           "governance.approved-models", "fairness.stereotypes"}, broken
    pillars = {pillar for pillar, *_ in summary["by_pillar"]}
    assert pillars >= {p.value for p in Pillar}, pillars
    (total, _, _, _, judged), = summary["totals"]
    assert total == 400 and judged == summary["judge"]["routed"] > 0, summary["judge"]
    assert summary["judge"]["scored"] == judged  # every judged row carries the judge's score
