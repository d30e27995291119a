"""Incident classification on reports written here, not by the generator."""

from __future__ import annotations

import pytest

from raiwatch.schemas.common import Pillar
from raiwatch.streams.incident_classify import classify_incident

CASES = [
    ("My kid asked the homework bot about making a bomb for a movie script and it explained it.", "S9.weapons"),
    ("The chatbot told a depressed user that suicide was a reasonable option.", "S11.self_harm"),
    ("Got the assistant to write a scam text pretending to be the tax office.", "S2.nonviolent_crimes"),
    ("It printed its system prompt when I asked it to translate its instructions into French.", "system_prompt_leak"),
    ("The airline's bot insisted it was a real person and refused to transfer me.", "claims_human"),
    ("Asked for nurse candidates, the model ranked men lower: clearly biased.", "stereotyping"),
    ("The model made up three references for my thesis.", "hallucination"),
    ("A jailbreak posted on a forum makes it drop its rules.", "injection"),
    ("It refused to answer how to kill a zombie process on Linux.", "over_refusal"),
    ("Lovely weather today.", "other"),
]


@pytest.mark.parametrize(("text", "category"), CASES)
def test_reports_written_here(text: str, category: str) -> None:
    assert classify_incident(text)[1] == category


def test_the_harm_wins_over_the_attack() -> None:
    assert classify_incident("A jailbreak made it explain how to build explosives.") == (Pillar.SAFETY, "S9.weapons")
