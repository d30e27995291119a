"""A regulation's proposal (pure: the mapping is given): the next version of the first mapped
policy, citing the article, with review added and explicit thresholds tightened."""

from __future__ import annotations

from raiwatch.schemas.common import Pillar
from raiwatch.schemas.policies import RegulationV1
from raiwatch.streams.policy import DEFAULT_POLICY
from raiwatch.streams.policy_proposals import propose
from raiwatch.streams.regulation_mapping import Mapping

REGULATION = RegulationV1(event_id="reg-1", jurisdiction="EU", reference="EU AI Act Art. 52",
                          title="Transparency obligations", text="Providers shall ensure that people are informed. More.")


def test_a_proposal_changes_the_first_mapped_policy() -> None:
    policies = {p.policy_id: p for p in DEFAULT_POLICY.policies}
    mapping = Mapping([(Pillar.TRANSPARENCY, 0.8)], [("transparency.ai-disclosure", 0.4), ("privacy.personal-data", 0.1)])
    proposal = propose(REGULATION, mapping, policies)
    current, new = policies["transparency.ai-disclosure"], proposal.proposed
    assert (new.policy_id, new.version) == (current.policy_id, current.version + 1)
    assert new.provenance.endswith("; EU AI Act Art. 52") and "Under EU AI Act Art. 52" in new.rubric
    assert "Providers shall ensure that people are informed." in new.rubric and "More." not in new.rubric
    assert "review" in new.actions
    assert [c.threshold for c in new.checks] == [round(c.threshold - 0.05, 2) for c in current.checks]
    assert "-version: 1" in proposal.diff and "+version: 2" in proposal.diff
    assert propose(REGULATION, mapping, {**policies, new.policy_id: new}) is None  # already cited
    cited = REGULATION.model_copy(update={"reference": "EU AI Act Art. 5"})  # Art. 52 cited is not Art. 5
    assert propose(cited, mapping, {**policies, new.policy_id: new}) is not None
    assert propose(REGULATION, Mapping([(Pillar.TRANSPARENCY, 0.8)], []), policies) is None
    again = propose(REGULATION, mapping, policies)
    assert again.proposal_id == proposal.proposal_id  # a replayed article is the same proposal
