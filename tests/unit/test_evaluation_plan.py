"""services.evaluation_plan against a direct computation: binomial probabilities written out as
sums of C(n, k) p^k (1-p)^(n-k), exact rational arithmetic for the critical counts."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from math import comb

import pytest

from training_dashboard.services import evaluation_plan as plan


def pmf(k: int, n: int, p: float) -> float:
    return comb(n, k) * p**k * (1 - p) ** (n - k)


@cache
def critical(m: int, alpha: float = 0.05) -> int | None:
    """The smallest k with P(X >= k) <= alpha / 2 under X ~ Binomial(m, 1/2), in exact fractions."""
    for k in range(m + 1):
        if Fraction(sum(comb(m, j) for j in range(k, m + 1)), 2**m) <= Fraction(alpha).limit_denominator(1000) / 2:
            return k
    return None


def power_direct(n: int, w: float, tie_rate: float = 0.0) -> float:
    total = 0.0
    for m in range(n + 1):
        weight = pmf(m, n, 1 - tie_rate)
        k = critical(m) if weight else None
        if k is None:
            continue
        reject = sum(pmf(x, m, w) for x in range(k, m + 1)) + sum(pmf(x, m, w) for x in range(0, m - k + 1))
        total += weight * reject
    return total


@pytest.mark.parametrize("m", [1, 5, 6, 9, 10, 17, 20, 50, 99, 200])
def test_critical_count_is_the_exact_sign_test(m):
    assert plan.critical_count(m) == critical(m)


def test_critical_count_agrees_with_scipys_binomtest():
    from scipy.stats import binomtest

    for m in range(6, 80):
        k = plan.critical_count(m)
        assert binomtest(k, m, 0.5).pvalue <= 0.05 < binomtest(k - 1, m, 0.5).pvalue


@pytest.mark.parametrize(("n", "w", "ties"), [(10, 0.8, 0.0), (20, 0.7, 0.0), (30, 0.65, 0.2), (12, 0.9, 0.1),
                                              (40, 0.3, 0.0), (25, 0.5, 0.0), (60, 0.62, 0.15)])
def test_power_equals_the_direct_sum(n, w, ties):
    assert plan.sign_test_power(n, w, ties) == pytest.approx(power_direct(n, w, ties), abs=1e-12)


@pytest.mark.parametrize(("n", "ties"), [(20, 0.0), (50, 0.0), (40, 0.25)])
def test_detectable_win_rate_is_the_smallest_with_80_percent_power(n, ties):
    w = plan.detectable_win_rate(n, ties)
    assert w is not None and 0.5 < w <= 1
    assert power_direct(n, w, ties) >= 0.8
    assert power_direct(n, w - 1e-4, ties) < 0.8


def test_too_few_pairs_detect_nothing():
    assert plan.detectable_win_rate(5) is None  # 5 of 5 wins: p = 1/16 > 0.05
    six = plan.detectable_win_rate(6)  # 6 of 6: p = 1/32; w^6 + (1-w)^6 >= 0.8 from w ~ 0.964
    assert six is not None and power_direct(6, six) >= 0.8 > power_direct(6, six - 1e-4)
    assert plan.pairs_needed(0.5) is None


@pytest.mark.parametrize(("w", "ties"), [(0.75, 0.0), (0.7, 0.0), (0.3, 0.0), (0.8, 0.3)])
def test_pairs_needed_is_the_first_n_reaching_80_percent(w, ties):
    n = plan.pairs_needed(w, ties)
    assert n is not None
    assert power_direct(n, w, ties) >= 0.8
    assert all(power_direct(k, w, ties) < 0.8 for k in range(1, n))


def test_pairs_needed_gives_up_past_the_limit():
    assert plan.pairs_needed(0.51, max_pairs=100) is None
