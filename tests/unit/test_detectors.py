"""The regression watch's detectors on synthetic streams with fixed seeds: false alarms stay
within alpha, a doubled rate is found, the interval covers the truth, state round-trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raiwatch.streams.detectors import GRID, BernoulliCusum, RateRatioTest, batch_log_likelihood, fixed_sample_size


def _run(rng, p_c: float, p_b: float, batches: int, batch: int = 100, baseline_factor: int = 1,
         alpha: float = 0.05) -> RateRatioTest | None:
    test = RateRatioTest(alpha=alpha)
    for _ in range(batches):
        test.update(int(rng.binomial(batch, p_c)), batch, int(rng.binomial(batch * baseline_factor, p_b)),
                    batch * baseline_factor)
        if test.rejected:
            return test
    return None


def test_fixed_sample_size_matches_the_textbook_number() -> None:
    assert 4300 <= fixed_sample_size(0.01, 0.02, 0.01, 0.9) <= 4500


def test_no_change_rarely_alarms_even_when_watched_after_every_batch() -> None:
    rng = np.random.default_rng(1)
    alarms = sum(_run(rng, 0.05, 0.05, 200) is not None for _ in range(300))
    assert alarms / 300 <= 0.05  # alpha, although checked 200 times each


def test_a_rate_that_moves_for_both_arms_alike_is_not_a_regression() -> None:
    rng = np.random.default_rng(2)
    alarms = 0
    for _ in range(200):
        test = RateRatioTest(alpha=0.05)
        for i in range(200):
            p = 0.01 if i < 100 else 0.08  # the day's traffic gets worse, for every version
            test.update(int(rng.binomial(100, p)), 100, int(rng.binomial(300, p)), 300)
        alarms += test.rejected
    assert alarms / 200 <= 0.05


def test_a_doubled_rate_is_found_with_equal_and_with_canary_traffic() -> None:
    rng = np.random.default_rng(3)
    equal = [_run(rng, 0.02, 0.01, 130, alpha=0.01) for _ in range(100)]
    canary = [_run(rng, 0.02, 0.01, 130, baseline_factor=10, alpha=0.01) for _ in range(100)]
    assert sum(t is not None for t in equal) >= 90
    assert sum(t is not None for t in canary) >= 97
    delay = lambda runs: np.mean([t.candidate_requests if t else 13000 for t in runs])  # noqa: E731
    assert delay(canary) < delay(equal) * 0.8  # the baseline's traffic is used


def test_a_lower_candidate_rate_never_alarms() -> None:
    rng = np.random.default_rng(4)
    assert all(_run(rng, 0.01, 0.03, 100) is None for _ in range(50))


def test_the_interval_covers_the_true_odds_ratio() -> None:
    rng = np.random.default_rng(5)
    true = (0.04 / 0.96) / (0.02 / 0.98)
    covered = 0
    for _ in range(100):
        test = RateRatioTest(alpha=0.05)
        for _ in range(50):
            test.update(int(rng.binomial(200, 0.04)), 200, int(rng.binomial(200, 0.02)), 200)
        low, high = test.confidence_interval()
        covered += low <= true <= high
        assert low < test.odds_ratio() < high or math.isclose(low, test.odds_ratio()) or math.isclose(high, test.odds_ratio())
    assert covered >= 95


def test_batch_likelihood_is_zero_without_information_and_state_round_trips() -> None:
    assert not batch_log_likelihood(0, 0, 50, 50).any()
    assert not batch_log_likelihood(3, 3, 3, 0).any()  # the baseline had no traffic
    rng = np.random.default_rng(6)
    test = RateRatioTest(alpha=0.01)
    for _ in range(20):
        test.update(int(rng.binomial(100, 0.05)), 100, int(rng.binomial(100, 0.03)), 100)
    again = RateRatioTest.from_state(test.to_state())
    assert again.log_evidence == pytest.approx(test.log_evidence)
    assert again.confidence_interval() == test.confidence_interval()
    assert again.rates() == test.rates() and len(again.log_lik) == len(GRID)


def test_cusum_finds_drift_and_stays_quiet_without_it() -> None:
    rng = np.random.default_rng(7)
    found, quiet_alarms = [], 0
    for _ in range(50):
        drifting, steady = BernoulliCusum(reference_requests=5000), BernoulliCusum(reference_requests=5000)
        for _ in range(50):
            drifting.update(int(rng.binomial(100, 0.01)), 100)
            steady.update(int(rng.binomial(100, 0.01)), 100)
        hit = None
        for i in range(200):
            if hit is None and drifting.update(int(rng.binomial(100, 0.02)), 100):
                hit = i
            quiet_alarms += steady.update(int(rng.binomial(100, 0.01)), 100)
        found.append(hit)
        assert BernoulliCusum.from_state(steady.to_state()) == steady
    assert sum(h is not None for h in found) >= 45
    assert quiet_alarms <= 50 * 200 * 0.001  # at least 1/alpha batches between false alarms
