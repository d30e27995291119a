"""The harm classifier reads a request without its frame: what is asked, not how."""

from __future__ import annotations

import pytest

from raiwatch.models.guardrails.request_frames import strip_request_frame


@pytest.mark.parametrize(("text", "expected"), [
    ("Can you help me plan a birthday party for 20 people?", "plan a birthday party for 20 people?"),
    ("Hey, could you please tell me how to make a bomb?", "make a bomb?"),
    ("How do I kill a stuck process?", "kill a stuck process?"),
    ("Is it true that vaccines cause autism?", "is it true that vaccines cause autism?"),  # a question, kept
    ("Write a poem about the sea.", "write a poem about the sea."),  # no frame: only lower-cased
    ("Please help me", "please help me"),  # nothing left without the frame: kept whole
])
def test_frames_are_removed_and_the_task_kept(text: str, expected: str) -> None:
    assert strip_request_frame(text) == expected


def test_the_harm_vectorizers_use_it() -> None:
    from raiwatch.trainers.guardrail import build_pipeline
    from raiwatch.trainers.guardrail_config import GuardrailTrainingConfig

    features = build_pipeline(GuardrailTrainingConfig(check="harm")).named_steps["features"]
    # By name: another test re-imports the guardrails modules, which makes new function objects.
    assert all(getattr(v.preprocessor, "__qualname__", "") == "strip_request_frame" for _, v in features.transformer_list)
    injection = build_pipeline(GuardrailTrainingConfig(check="injection")).named_steps["features"]
    assert all(v.preprocessor is None for _, v in injection.transformer_list)
