"""Policies as code: a folder of YAML files, one policy per file, read and validated.

A file is the fields of `PolicyV2` (schemas/policies.py) without the event envelope: the loader
adds `schema_version`, `event_id` (`<policy_id>@<version>`) and `ts`. Validation reports every
problem it finds, each with its file, its YAML path (`checks[1].threshold`), the line and the
reason, so that a policy owner can fix them all in one go:
- YAML that does not parse, or is not a mapping;
- anything the schema refuses (unknown fields, a threshold outside [0, 1], a review band out of
  order, a relaxed override for a tenant that is not trusted or not fully watched, ...);
- a check that no installed package provides;
- a file not named after its policy id, or two files with the same policy id;
- a changed policy whose version is not above the live one (when the live versions are given).

The default set lives in `schemas/policy_sets/default/` and is installed with the package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..ops.errors import RaiwatchError
from ..schemas.policies import PolicyV2

POLICY_SUFFIXES = (".yaml", ".yml")
ENVELOPE = ("schema_version", "event_id", "ts")


@dataclass(frozen=True)
class PolicyProblem:
    """One reason a policy file is refused."""

    file: str
    path: str  # the YAML path, e.g. `checks[1].threshold`; empty for the whole file
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(file)'}: {self.reason}"


class PolicyFilesInvalid(RaiwatchError):
    """A policy folder with at least one problem; `problems` lists them all."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the policy files:\n" + "\n".join(map(str, problems)))


def default_policy_dir() -> Path:
    """The installed default policy set."""
    return Path(str(resources.files("raiwatch.schemas") / "policy_sets" / "default"))


def load_policies(directory: Path, known_checks: Iterable[str] | None = None,
                  live: Mapping[str, PolicyV2] | None = None) -> list[PolicyV2]:
    """Every policy in `directory`, validated; raises `PolicyFilesInvalid` listing every problem.
    `known_checks`: the check names a worker can run (None: not checked); `live`: the policies
    in force by id (None: not compared)."""
    if not directory.is_dir():
        raise RaiwatchError(f"policy folder {directory} does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix in POLICY_SUFFIXES and p.is_file())
    problems: list[PolicyProblem] = []
    if not files:
        problems.append(PolicyProblem(str(directory), "", None, "no policy files (*.yaml) in this folder"))
    policies: list[PolicyV2] = []
    first_file: dict[str, str] = {}
    known = set(known_checks) if known_checks is not None else None
    for path in files:
        policy, found = _load_file(path, known)
        problems += found
        if policy is None:
            continue
        if policy.policy_id in first_file:
            problems.append(PolicyProblem(path.name, "policy_id", _line(path, ["policy_id"]),
                                          f"duplicate policy id {policy.policy_id!r}, also in {first_file[policy.policy_id]}"))
            continue
        first_file[policy.policy_id] = path.name
        if live is not None and (problem := _version_problem(path, policy, live.get(policy.policy_id))):
            problems.append(problem)
        policies.append(policy)
    if problems:
        raise PolicyFilesInvalid(problems)
    return policies


def same_content(a: PolicyV2, b: PolicyV2) -> bool:
    """The same policy text, whatever the envelope (event id, time) says."""
    return a.model_dump(exclude=set(ENVELOPE)) == b.model_dump(exclude=set(ENVELOPE))


def policy_yaml(policy: PolicyV2) -> str:
    """A policy as its file would hold it (defaults left out), for `show` and `diff`."""
    data = policy.model_dump(mode="json", exclude=set(ENVELOPE), exclude_defaults=True)
    data = {"policy_id": data.pop("policy_id"), "version": data.pop("version"), **data}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _load_file(path: Path, known_checks: set[str] | None) -> tuple[PolicyV2 | None, list[PolicyProblem]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        return None, [PolicyProblem(path.name, "", mark.line + 1 if mark else None, reason)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [PolicyProblem(path.name, "", None, f"cannot be read: {exc}")]
    if not isinstance(data, dict):
        return None, [PolicyProblem(path.name, "", 1, f"must be a mapping of policy fields, got {type(data).__name__}")]
    problems = [PolicyProblem(path.name, key, _line(path, [key]), "set by raiwatch, not by the file")
                for key in ENVELOPE if key in data]
    if problems:
        return None, problems
    envelope = {"schema_version": 2, "event_id": f"{data.get('policy_id')}@{data.get('version')}",
                "ts": datetime.now(UTC)}
    try:
        policy = PolicyV2.model_validate({**data, **envelope})
    except ValidationError as exc:
        return None, [_problem(path, error) for error in exc.errors()]
    if path.stem != policy.policy_id:
        problems.append(PolicyProblem(path.name, "policy_id", _line(path, ["policy_id"]),
                                      f"the file must be named after its policy: {policy.policy_id}{path.suffix}"))
    if known_checks is not None:
        for index, entry in enumerate(policy.checks):
            if entry.check not in known_checks:
                problems.append(PolicyProblem(path.name, f"checks[{index}].check", _line(path, ["checks", index, "check"]),
                                              f"unknown check {entry.check!r}; `raiwatch checks list` shows the known ones"))
    return (None if problems else policy), problems


def _version_problem(path: Path, policy: PolicyV2, live: PolicyV2 | None) -> PolicyProblem | None:
    if live is None or same_content(policy, live) or policy.version > live.version:
        return None
    return PolicyProblem(path.name, "version", _line(path, ["version"]),
                         f"the policy changed but version {policy.version} is not above the live version {live.version}")


def _problem(path: Path, error: Mapping[str, Any]) -> PolicyProblem:
    """A schema error as a problem; a whole-policy rule names its YAML path first ("a.b: why")."""
    loc, reason = list(error["loc"]), _reason(error)
    head, _, rest = reason.partition(": ")
    if not loc and rest and " " not in head:
        loc, reason = head.split(".", 1) if "." in head else [head], rest
    return PolicyProblem(path.name, _dotted(loc), _line(path, loc), reason)


def _dotted(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _reason(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return message


def _line(path: Path, loc: list[Any]) -> int | None:
    """The 1-based line of the deepest node of `loc` found in the file's YAML."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if key.value == str(part)), None)
            if child is not None:
                key_node = next(key for key, value in node.value if value is child)
                line = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
