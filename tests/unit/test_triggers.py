"""What a policy change asks for (pure): an evaluation per model seen in traffic with the
pillar's suites, and training jobs only when the policy says so; ids are deterministic."""

from __future__ import annotations

from raiwatch.schemas.common import ModelRef
from raiwatch.streams.policy import DEFAULT_POLICY
from raiwatch.streams.triggers import PolicyTriggers, policy_triggers

MODELS = [ModelRef(name="bot", version="1"), ModelRef(name="bot", version="1", adapter="tone"),
          ModelRef(name="bot", version="2")]


def policy(name: str, **changes):
    found = next(p for p in DEFAULT_POLICY.policies if p.policy_id == name)
    return found.model_copy(update=changes)


def test_a_change_asks_for_an_evaluation_per_model() -> None:
    changed = policy("safety.harmful-compliance", version=3)
    triggers = policy_triggers(changed, MODELS, {"safety.harmful-compliance": 3})
    assert [t.kind for t in triggers] == ["eval"] * 3
    assert {t.cause for t in triggers} == {"policy:safety.harmful-compliance@3"}
    assert triggers[0].event.suites == ["harmful_behaviours", "benign_over_refusal"]
    assert len({t.request_id for t in triggers}) == 3
    assert [t.request_id for t in triggers] == [t.request_id for t in policy_triggers(changed, MODELS, {})]
    assert policy_triggers(policy("safety.harmful-compliance", version=4), MODELS, {})[0].request_id != \
        triggers[0].request_id


def test_retraining_only_where_the_policy_says_so() -> None:
    retrains = policy_triggers(policy("safety.harmful-compliance", version=3, retrain_on_change=True), MODELS, {})
    jobs = [t for t in retrains if t.kind == "train"]
    assert [(j.event.base_model.name, j.event.base_model.version, j.event.method) for j in jobs] == [
        ("bot", "1", "dpo"), ("bot", "2", "dpo")]  # one per base model, adapters share it


def test_publishing_the_default_set_is_no_change() -> None:
    defaults = {p.policy_id: p for p in DEFAULT_POLICY.policies}
    triggers = PolicyTriggers(None, None, defaults)
    assert not triggers.is_change(defaults["safety.harmful-compliance"])
    assert triggers.is_change(policy("safety.harmful-compliance", version=2))
    assert triggers.is_change(policy("safety.harmful-compliance", policy_id="custom.new"))


def test_a_red_team_batch_asks_every_model_once() -> None:
    from raiwatch.schemas.common import Pillar
    from raiwatch.streams.triggers import redteam_triggers

    first = redteam_triggers(Pillar.SAFETY, 1, MODELS)
    assert {t.cause for t in first} == {"redteam:safety@1"} and len(first) == 3
    assert "redteam_collected" in first[0].event.suites
    assert {t.request_id for t in first}.isdisjoint({t.request_id for t in redteam_triggers(Pillar.SAFETY, 2, MODELS)})
