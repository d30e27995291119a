"""Sequential detectors for rates in a stream: is a candidate model version worse than its
baseline (an always-valid test, checked after every batch), and has one version drifted.

Why a conditional test. A regression watch compares two streams of Bernoulli outcomes (a
request violates or not) whose base rate is unknown and moves with the traffic of the day. In a
batch (a minute, say) where the candidate served `n_c` requests and the baseline `n_b`, and `e`
of them violated, the candidate's share `k` of those `e` is hypergeometric when both versions
share one rate, whatever that rate is, and Fisher's noncentral hypergeometric with odds ratio
`psi` when the candidate's odds are `psi` times the baseline's. The ratio of the two is a
likelihood ratio with expectation 1 under "no regression" given the past, so its running
product is a test martingale (the nuisance rate conditioned away, even when it drifts), and a
mixture over `psi` is one too: by Ville's inequality it ever reaches 1/alpha with probability at
most alpha. Checking it after every batch, forever, costs nothing in false alarms.

What the stream knows is used twice: the baseline's traffic (ten times the candidate's on a
canary) sharpens every batch's comparison by itself, and the regression worth paging for (a
rate that doubles) centres the mixture. The same log-likelihoods over a grid of odds ratios
give an always-valid confidence interval for the effect.

`BernoulliCusum` watches one version against its own reference rate (drift over time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import gammaln
from scipy.stats import norm

# Odds ratios the e-process tracks: log-spaced from 1/16 to 16 (the middle one is 1). The test
# mixes those above 1; the confidence interval shifts the same test along the grid.
GRID = np.exp(np.linspace(math.log(1 / 16), math.log(16), 97))


def fixed_sample_size(p0: float, p1: float, alpha: float = 0.01, power: float = 0.9) -> int:
    """Per-arm size of a one-shot two-sided two-proportion z-test (the yardstick the detection
    delays are quoted against: about 4,400 for 1% -> 2% at alpha 0.01 and power 0.9)."""
    z_a, z_b = norm.ppf(1 - alpha / 2), norm.ppf(power)
    p_bar = (p0 + p1) / 2
    root = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return math.ceil(root ** 2 / (p1 - p0) ** 2)


@lru_cache(maxsize=64)
def offset_log_weights(expected_ratio: float, spread: float) -> np.ndarray:
    """Prior log-weights of the alternatives `d` grid steps above the odds ratio tested
    (d = 1 .. len(GRID) - 1): a normal on the log ratio between them centred on
    `expected_ratio` with sd `spread`, normalised. Alternatives that would fall off the grid
    are dropped, which only makes an e-value smaller (still valid)."""
    step = math.log(GRID[1] / GRID[0])
    offsets = np.arange(1, len(GRID)) * step
    log_w = -0.5 * ((offsets - math.log(expected_ratio)) / spread) ** 2
    return log_w - (log_w.max() + math.log(np.exp(log_w - log_w.max()).sum()))


def _logsumexp(values: np.ndarray) -> float:
    top = values.max()
    return float(top + math.log(np.exp(values - top).sum()))


def one_sided_log_evidence(log_lik: np.ndarray, index: int, upward: bool, log_w: np.ndarray) -> float:
    """log e-value against "odds ratio = GRID[index]", mixing the alternatives above it
    (`upward`) or below it with the offset weights."""
    if upward:
        span = len(GRID) - 1 - index
        if span <= 0:
            return -math.inf
        return _logsumexp(log_w[:span] + log_lik[index + 1:] - log_lik[index])
    if index <= 0:
        return -math.inf
    return _logsumexp(log_w[:index] + log_lik[index - 1::-1] - log_lik[index])


CENTER = len(GRID) // 2  # GRID[CENTER] == 1: no difference


def _log_choose(n: np.ndarray | int, k: np.ndarray | int) -> np.ndarray:
    return gammaln(np.asarray(n) + 1) - gammaln(np.asarray(k) + 1) - gammaln(np.asarray(n) - np.asarray(k) + 1)


@lru_cache(maxsize=65536)
def batch_log_likelihood(k: int, e: int, n_c: int, n_b: int) -> np.ndarray:
    """log P(k of the e events from the candidate | odds ratio psi) - log P(same | psi = 1) for
    every psi in `GRID` (Fisher's noncentral hypergeometric over the central one)."""
    lo, hi = max(0, e - n_b), min(e, n_c)
    if e == 0 or lo == hi:
        return np.zeros_like(GRID)  # the batch says nothing about psi
    support = np.arange(lo, hi + 1)
    log_terms = _log_choose(n_c, support) + _log_choose(n_b, e - support)  # central weights
    log_psi = np.log(GRID)
    # log sum_i C(n_c,i) C(n_b,e-i) psi^i, per psi, stably
    exponents = log_terms[None, :] + np.outer(log_psi, support)
    top = exponents.max(axis=1)
    log_norm_psi = top + np.log(np.exp(exponents - top[:, None]).sum(axis=1))
    t0 = log_terms.max()
    log_norm_1 = t0 + math.log(np.exp(log_terms - t0).sum())
    result = k * log_psi - log_norm_psi + log_norm_1
    result.flags.writeable = False  # cached: shared between callers
    return result




@dataclass
class RateRatioTest:
    """An always-valid one-sided test that a candidate's event rate exceeds its baseline's, fed
    with per-batch counts (events and requests of each arm); see the module docstring.

    `alpha` is this key's false-alarm budget (split it across keys for a family-wise rate)."""

    alpha: float = 0.01
    expected_ratio: float = 2.0
    spread: float = 0.35
    log_lik: np.ndarray = field(default_factory=lambda: np.zeros_like(GRID))
    candidate_events: int = 0
    candidate_requests: int = 0
    baseline_events: int = 0
    baseline_requests: int = 0

    def update(self, candidate_events: int, candidate_requests: int, baseline_events: int, baseline_requests: int) -> None:
        """Add one batch; a batch where one arm had no traffic says nothing and is skipped."""
        if candidate_requests <= 0 or baseline_requests <= 0:
            return
        candidate_events = min(candidate_events, candidate_requests)
        baseline_events = min(baseline_events, baseline_requests)
        self.log_lik = self.log_lik + batch_log_likelihood(
            candidate_events, candidate_events + baseline_events, candidate_requests, baseline_requests)
        self.candidate_events += candidate_events
        self.candidate_requests += candidate_requests
        self.baseline_events += baseline_events
        self.baseline_requests += baseline_requests

    @property
    def log_evidence(self) -> float:
        """log of the mixture e-value against "no regression" (odds ratio 1), mixing the odds
        ratios above 1."""
        return one_sided_log_evidence(self.log_lik, CENTER, True, offset_log_weights(self.expected_ratio, self.spread))

    @property
    def threshold(self) -> float:
        return math.log(1 / self.alpha)

    @property
    def rejected(self) -> bool:
        """The candidate's rate is higher (false alarm probability at most alpha, ever)."""
        return self.log_evidence >= self.threshold

    def rates(self) -> tuple[float, float]:
        return (self.candidate_events / max(self.candidate_requests, 1),
                self.baseline_events / max(self.baseline_requests, 1))

    def odds_ratio(self) -> float:
        """The maximum-likelihood odds ratio on the grid (the effect size)."""
        return float(GRID[int(np.argmax(self.log_lik))])

    def confidence_interval(self, alpha: float | None = None) -> tuple[float, float]:
        """Always-valid interval for the odds ratio, by inverting the test: the lower bound is
        the smallest grid value that the same one-sided test, shifted to it, has not rejected;
        the upper bound likewise with the alternatives below. Each bound holds with probability
        1 - alpha at all times (so the interval 1 - 2 alpha); at an alarm the lower bound is
        above 1, as the test says."""
        threshold = math.log(1 / (self.alpha if alpha is None else alpha))
        log_w = offset_log_weights(self.expected_ratio, self.spread)
        lower = next((GRID[i] for i in range(len(GRID))
                      if one_sided_log_evidence(self.log_lik, i, True, log_w) < threshold), GRID[-1])
        upper = next((GRID[i] for i in range(len(GRID) - 1, -1, -1)
                      if one_sided_log_evidence(self.log_lik, i, False, log_w) < threshold), GRID[0])
        return float(lower), float(upper)

    def to_state(self) -> dict:
        return {"log_lik": [round(float(x), 9) for x in self.log_lik], "alpha": self.alpha,
                "expected_ratio": self.expected_ratio, "spread": self.spread,
                "counts": [self.candidate_events, self.candidate_requests, self.baseline_events, self.baseline_requests]}

    @classmethod
    def from_state(cls, state: dict) -> RateRatioTest:
        test = cls(alpha=state["alpha"], expected_ratio=state["expected_ratio"], spread=state["spread"],
                   log_lik=np.asarray(state["log_lik"], dtype=float))
        (test.candidate_events, test.candidate_requests,
         test.baseline_events, test.baseline_requests) = state["counts"]
        return test


@dataclass
class BernoulliCusum:
    """CUSUM for one version's event rate rising by `ratio` over its reference rate, the rate of
    its first `reference_requests` requests. Alarms when the statistic passes
    `log(1 / alpha)`: then the average run length between false alarms is at least 1 / alpha
    batches (each restart of the CUSUM is an SPRT with that threshold)."""

    ratio: float = 2.0
    alpha: float = 0.001
    reference_requests: int = 5000
    reference_events: int = 0
    reference_seen: int = 0
    statistic: float = 0.0

    @property
    def reference_rate(self) -> float | None:
        if self.reference_seen < self.reference_requests:
            return None
        return max(self.reference_events, 1) / self.reference_seen  # floor: one event

    def update(self, events: int, requests: int) -> bool:
        """Add one batch; True when it raises the alarm (the statistic restarts then)."""
        p0 = self.reference_rate
        if p0 is None:
            self.reference_events += events
            self.reference_seen += requests
            return False
        p1 = min(p0 * self.ratio, 0.999)
        increment = events * math.log(p1 / p0) + (requests - events) * math.log((1 - p1) / (1 - p0))
        self.statistic = max(0.0, self.statistic + increment)
        if self.statistic >= math.log(1 / self.alpha):
            self.statistic = 0.0
            return True
        return False

    def to_state(self) -> dict:
        return {"ratio": self.ratio, "alpha": self.alpha, "reference_requests": self.reference_requests,
                "reference_events": self.reference_events, "reference_seen": self.reference_seen,
                "statistic": self.statistic}

    @classmethod
    def from_state(cls, state: dict) -> BernoulliCusum:
        return cls(**state)
