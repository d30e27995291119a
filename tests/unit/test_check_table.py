"""The check table: checks are found by name (built-ins without importing their modules), an
unknown name lists what exists, and a check id records version and identity but never a secret."""

from __future__ import annotations

import sys

import pytest

from raiwatch.models import available_checks, create_check
from raiwatch.ops.errors import ConfigurationError


def test_listing_checks_imports_no_implementation() -> None:
    for module in [m for m in sys.modules if m.startswith(("raiwatch.models.guardrails.", "raiwatch.models.judges"))]:
        del sys.modules[module]
    checks = available_checks()
    assert {"pii.regex", "pii.presidio", "harm.classifier", "judge.safety"} <= set(checks)
    assert "raiwatch.models.guardrails.pii" not in sys.modules and "raiwatch.models.judges.checks" not in sys.modules


def test_an_unknown_check_names_the_available_ones() -> None:
    with pytest.raises(ConfigurationError, match="available checks: .*pii.regex"):
        create_check("pii.nope")


def test_bad_arguments_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bad arguments for check 'pii.regex'"):
        create_check("pii.regex", no_such_argument=1)


def test_the_check_id_records_version_and_arguments_but_no_secret() -> None:
    check = create_check("pii.regex", scan_prompt=False)
    assert check.check_id == "pii.regex@3{scan_prompt=False}"
    judge = create_check("judge.safety", backend="openai", base_url="http://judge:8000/v1", model="llama-guard-3",
                         api_key="sk-live-secret")
    assert judge.check_id == ("judge.safety@rubric2{backend='openai',base_url='http://judge:8000/v1',"
                              "model='llama-guard-3',threshold=0.5}")
