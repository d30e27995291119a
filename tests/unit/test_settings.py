"""Settings: environment names per group, copies with changes, the environment a child process
gets, and secrets that never print."""

from __future__ import annotations

import json

import pytest

from raiwatch.ops.settings import RaiwatchSettings


def test_groups_read_their_environment_names(monkeypatch) -> None:
    monkeypatch.setenv("RAIWATCH_JOIN__TIMEOUT_S", "3.5")
    monkeypatch.setenv("RAIWATCH_KAFKA__CONSUMER", '{"max_poll_interval_ms": 10000}')
    monkeypatch.setenv("RAIWATCH_SCREEN__CHECKS", '["pii.regex", {"name": "judge.safety", "args": {"backend": "openai"}}]')
    settings = RaiwatchSettings()
    assert settings.join.timeout_s == 3.5 and settings.kafka.consumer == {"max_poll_interval_ms": 10000}
    assert [str(check) for check in settings.screen.checks] == ["pii.regex", "judge.safety(backend='openai')"]


def test_replace_changes_nested_fields_and_rejects_unknown_ones() -> None:
    settings = RaiwatchSettings().replace(join__timeout_s=2.0, kafka__topic_prefix="t.")
    assert settings.join.timeout_s == 2.0 and settings.topic("rai.prompts") == "t.rai.prompts"
    with pytest.raises(KeyError):
        settings.replace(join__timeout=2.0)


def test_a_child_process_environment_reproduces_the_settings(monkeypatch) -> None:
    settings = RaiwatchSettings().replace(kafka__password="hunter2", judge__sample_rates={"*": 0.5},
                                          stages__worker_id="w7", screen__checks=[{"name": "pii.regex", "args": {"x": 1}}])
    env = settings.environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert RaiwatchSettings() == settings


def test_secrets_never_print() -> None:
    settings = RaiwatchSettings().replace(kafka__password="hunter2", clickhouse__password="s3cret",
                                          judge__api_key="sk-live-abc")
    shown = repr(settings) + str(settings) + json.dumps(settings.model_dump(mode="json"))
    assert "hunter2" not in shown and "s3cret" not in shown and "sk-live-abc" not in shown
