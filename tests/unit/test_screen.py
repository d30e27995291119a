"""A check that raises inside `run_checks` gives unscored results for its batch, with the error;
the other checks still score; a check that returns the wrong number of scores counts as failed."""

from __future__ import annotations

import asyncio

from raiwatch.models import create_check
from raiwatch.models.scoring import Score, ScoringItem
from raiwatch.schemas.common import Pillar
from raiwatch.streams.screen import run_checks


class Broken:
    check_id, pillar = "broken@1", Pillar.SAFETY

    async def score_batch(self, items):
        raise RuntimeError("model server on fire")


class Short:
    check_id, pillar = "short@1", Pillar.SAFETY

    async def score_batch(self, items):
        return [Score(check=self.check_id, pillar=self.pillar, value=0.1)]


def test_a_raising_check_is_unscored_and_the_others_still_score() -> None:
    items = [ScoringItem("a", prompt="hi", output="mail jane@example.com"), ScoringItem("b", prompt="x", output="y")]
    scores = asyncio.run(run_checks([create_check("pii.regex"), Broken(), Short()], items))
    assert len(scores) == 2
    for per_item in scores:
        regex, broken, short = per_item
        assert regex.scored
        assert not broken.scored and "RuntimeError: model server on fire" in broken.error
        assert not short.scored and "returned 1 scores for 2 items" in short.error
    assert scores[0][0].value == 1.0 and scores[1][0].value == 0.0
