"""The prepared GPU judge benchmark runs end to end (tiny shape, on whatever device is here):
real tokenizer, real judge check, real forward passes; only the weights are random."""

from __future__ import annotations

import pytest

from raiwatch.ops.bench.judge_gpu import run

pytestmark = pytest.mark.ml


def test_tiny_run_measures_judge_and_prefill_at_the_requested_prompt_length() -> None:
    result = run([2, 4], tokens=600, tiny=True, repeats=1)  # the bare rubric prompt is ~360 tokens
    assert [row["batch_size"] for row in result["results"]] == [2, 4]
    for row in result["results"]:
        assert 570 <= row["prompt_tokens"] <= 640  # padded to about the requested length
        assert row["judge_verdicts_per_s"] > 0 and row["prefill_ceiling_seqs_per_s"] > 0
        assert row["of"] == row["batch_size"]


def test_the_prepared_dpo_step_time_script_runs_the_training_path() -> None:
    from raiwatch.ops.bench.dpo_gpu import run as run_dpo

    result = run_dpo(steps=4, batch_size=2, max_length=96, tiny=True)
    assert len(result["step_s"]["all"]) == 4 and result["step_s"]["median"] > 0
    assert result["pairs"] > 1000 and result["shape"] == "tiny"
