"""Policies as code: the default set loads, and each kind of broken policy file is refused with
its file, YAML path, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from raiwatch.models.catalog import available_checks
from raiwatch.schemas.common import Pillar
from raiwatch.streams.policy_files import PolicyFilesInvalid, default_policy_dir, load_policies, policy_yaml

GOOD = """\
policy_id: {pid}
version: 2
pillar: safety
title: No harmful compliance
checks:
  - check: harm.keywords
    threshold: 0.5
  - check: compliance.classifier
"""


def test_the_default_set_loads_with_the_installed_checks() -> None:
    policies = load_policies(default_policy_dir(), available_checks())
    assert {p.policy_id for p in policies} >= {"privacy.personal-data", "security.prompt-injection",
                                               "safety.harmful-compliance", "controllability.over-refusal"}
    assert {p.pillar for p in policies} == set(Pillar)  # all eight pillars
    for policy in policies:  # what `show` prints reads back as the same policy
        assert load_policies_from_text(policy.policy_id, policy_yaml(policy))[0].checks == policy.checks


def load_policies_from_text(pid: str, text: str, tmp: Path | None = None) -> list:
    import tempfile

    folder = Path(tempfile.mkdtemp()) if tmp is None else tmp
    (folder / f"{pid}.yaml").write_text(text)
    return load_policies(folder, available_checks())


BROKEN = [
    # (file stem, text, expected YAML path, line, reason fragment)
    ("p.syntax", "policy_id: p.syntax\nversion: [1\n", "", 3, "not valid YAML"),
    ("p.list", "- just\n- a list\n", "", 1, "must be a mapping"),
    ("p.threshold", GOOD.format(pid="p.threshold").replace("threshold: 0.5", "threshold: 1.5"),
     "checks[0].threshold", 7, "less than or equal to 1"),
    ("p.unknown-check", GOOD.format(pid="p.unknown-check").replace("compliance.classifier", "toxicity.magic"),
     "checks[1].check", 8, "unknown check 'toxicity.magic'"),
    ("p.pillar", GOOD.format(pid="p.pillar").replace("pillar: safety", "pillar: vibes"), "pillar", 3,
     "Input should be"),
    ("p.field", GOOD.format(pid="p.field") + "colour: red\n", "colour", 9, "unknown field"),
    ("p.no-checks", "policy_id: p.no-checks\nversion: 1\npillar: safety\ntitle: t\nchecks: []\n", "checks", 5,
     "at least 1 item"),
    ("p.twice", GOOD.format(pid="p.twice").replace("compliance.classifier", "harm.keywords"), "checks", 5,
     "listed twice: harm.keywords"),
    ("p.band", GOOD.format(pid="p.band") + "review_band: [0.8, 0.2]\n", "review_band", 9, "low <= high"),
    ("p.name", GOOD.format(pid="p.other"), "policy_id", 1, "named after its policy: p.other.yaml"),
    ("p.envelope", GOOD.format(pid="p.envelope") + "event_id: x\n", "event_id", 9, "set by raiwatch"),
    ("p.untrusted", GOOD.format(pid="p.untrusted") + "tenant_overrides:\n  acme:\n    thresholds: {harm.keywords: 0.9}\n",
     "tenant_overrides.acme", 10, "'acme' is not in trusted_tenants"),
    ("p.trusted-unwatched", GOOD.format(pid="p.trusted-unwatched")
     + "trusted_tenants: [lab]\ntenant_overrides:\n  lab:\n    thresholds: {harm.keywords: 0.9}\n    judge_sample_rate: 0.5\n",
     "tenant_overrides.lab", 11, "needs judge_sample_rate: 1.0 and review_all_hits: true"),
    ("p.version", GOOD.format(pid="p.version").replace("version: 2", "version: 0"), "version", 2,
     "greater than or equal to 1"),
    ("P.Bad Id", GOOD.format(pid="P.Bad Id"), "policy_id", 1, "should match pattern"),
]


@pytest.mark.parametrize(("stem", "text", "path", "line", "reason"), BROKEN, ids=[case[0] for case in BROKEN])
def test_a_broken_policy_file_is_refused_precisely(tmp_path: Path, stem: str, text: str, path: str, line: int,
                                                   reason: str) -> None:
    (tmp_path / f"{stem}.yaml").write_text(text)
    with pytest.raises(PolicyFilesInvalid) as caught:
        load_policies(tmp_path, available_checks())
    problems = caught.value.problems
    assert any(p.file == f"{stem}.yaml" and p.path == path and p.line == line and reason in p.reason
               for p in problems), [str(p) for p in problems]


def test_every_problem_of_a_folder_is_listed_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.one.yaml").write_text(GOOD.format(pid="a.one").replace("threshold: 0.5", "threshold: 2"))
    (tmp_path / "b.two.yaml").write_text(GOOD.format(pid="b.two").replace("pillar: safety", "pillar: vibes"))
    with pytest.raises(PolicyFilesInvalid) as caught:
        load_policies(tmp_path, available_checks())
    assert {p.file for p in caught.value.problems} == {"a.one.yaml", "b.two.yaml"}


def test_duplicate_ids_and_versions_not_above_the_live_one(tmp_path: Path) -> None:
    first = tmp_path / "one"
    first.mkdir()
    (first / "p.same.yaml").write_text(GOOD.format(pid="p.same"))
    (live,) = load_policies(first, available_checks())
    # unchanged at the live version: fine; changed without a new version: refused
    assert load_policies(first, available_checks(), live={"p.same": live})
    (first / "p.same.yaml").write_text(GOOD.format(pid="p.same").replace("No harmful", "Never harmful"))
    with pytest.raises(PolicyFilesInvalid) as caught:
        load_policies(first, available_checks(), live={"p.same": live})
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("version", 2)
    assert "version 2 is not above the live version 2" in problem.reason
    (first / "p.same.yaml").write_text(GOOD.format(pid="p.same").replace("version: 2", "version: 3"))
    assert load_policies(first, available_checks(), live={"p.same": live})[0].version == 3
    (first / "p.same.yml").write_text(GOOD.format(pid="p.same"))  # the same id in a second file
    with pytest.raises(PolicyFilesInvalid) as caught:
        load_policies(first, available_checks())
    assert any("duplicate policy id 'p.same'" in p.reason for p in caught.value.problems)


def test_a_trusted_tenant_may_be_relaxed_only_under_full_monitoring(tmp_path: Path) -> None:
    text = GOOD.format(pid="p.lab") + ("trusted_tenants: [lab]\ntenant_overrides:\n  lab:\n"
                                       "    thresholds: {harm.keywords: 0.9}\n    judge_sample_rate: 1.0\n"
                                       "    review_all_hits: true\n")
    (policy,) = load_policies_from_text("p.lab", text, tmp_path)
    assert policy.threshold("harm.keywords", "lab") == 0.9 and policy.threshold("harm.keywords", "other") == 0.5
