"""The README's main job, `raiwatch demo`, end to end on the real stack: every request is one
verdict, every malformed message one dead letter, and the default policy set finds real cases
for seven of the eight pillars in the demo traffic (fairness needs the LLM judge)."""

from __future__ import annotations

import json

import pytest

from raiwatch.ops.demo import run_demo
from raiwatch.schemas.common import Pillar

pytestmark = pytest.mark.integration


def test_the_demo_finds_every_pillar_but_fairness(stack_settings, capsys) -> None:
    run_demo(stack_settings, requests=400, malformed=5, seed=3, timeout_s=240, json_output=True)
    summary = json.loads(capsys.readouterr().out)
    assert (summary["verdicts"], summary["dead_letters"]) == (400, 5)
    broken = {policy: count for policy, count in summary["by_policy"]}
    assert set(broken) >= {"privacy.personal-data", "safety.harmful-compliance", "controllability.over-refusal",
                           "controllability.system-prompt-leakage", "transparency.ai-disclosure",
                           "veracity.groundedness", "explainability.refusal-reasons",
                           "governance.approved-models"}, broken
    pillars = {pillar for pillar, *_ in summary["by_pillar"]}
    assert pillars >= {p.value for p in Pillar} - {Pillar.FAIRNESS.value}, pillars
