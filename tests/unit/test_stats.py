"""services/stats.py against reference values: scipy's binomtest as an oracle, the textbook
formulas computed by hand, and an independent Bradley–Terry maximum-likelihood fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import binomtest

from training_dashboard.services import stats

Z95 = 1.959963984540054


def wilson_by_hand(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def sign_test_by_hand(k: int, n: int) -> float:
    """Two-sided exact binomial p-value against 0.5 (symmetric, so twice the smaller tail)."""
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_win_rate_excludes_ties_and_matches_the_references():
    result = stats.win_rate(30, 10, 5)
    oracle = binomtest(30, 40, 0.5)  # 40 decisive votes: the 5 ties are left out
    interval = oracle.proportion_ci(0.95, method="wilson")
    assert (result.wins, result.losses, result.ties) == (30, 10, 5)
    assert result.win_rate == pytest.approx(0.75)
    assert result.ci_low == pytest.approx(interval.low, abs=1e-12)
    assert result.ci_high == pytest.approx(interval.high, abs=1e-12)
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-12)
    low, high = wilson_by_hand(30, 40)
    assert (result.ci_low, result.ci_high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
    assert (round(result.ci_low, 4), round(result.ci_high, 4)) == (0.5981, 0.8581)
    assert result.p_value == pytest.approx(sign_test_by_hand(30, 40), rel=1e-9)
    assert round(result.p_value, 5) == 0.00222
    assert result.verdict == "better"


def test_losing_record_mirrors_the_winning_one():
    win, lose = stats.win_rate(30, 10, 5), stats.win_rate(10, 30, 5)
    assert lose.verdict == "worse" and lose.win_rate == pytest.approx(0.25)
    assert lose.ci_low == pytest.approx(1 - win.ci_high) and lose.ci_high == pytest.approx(1 - win.ci_low)
    assert lose.p_value == pytest.approx(win.p_value)


@pytest.mark.parametrize(("wins", "losses"), [(12, 10), (20, 20), (1, 0), (3, 9), (0, 4), (7, 1), (55, 45)])
def test_interval_and_p_value_follow_the_formulas(wins, losses):
    result = stats.win_rate(wins, losses, 0)
    n = wins + losses
    assert result.ci_low == pytest.approx(wilson_by_hand(wins, n)[0], abs=1e-9)
    assert result.ci_high == pytest.approx(wilson_by_hand(wins, n)[1], abs=1e-9)
    assert result.p_value == pytest.approx(sign_test_by_hand(wins, n), rel=1e-9)
    expected = "better" if result.ci_low > 0.5 else "worse" if result.ci_high < 0.5 else "inconclusive"
    assert result.verdict == expected


def test_close_record_is_inconclusive():
    result = stats.win_rate(12, 10, 3)
    assert result.verdict == "inconclusive" and result.ci_low < 0.5 < result.ci_high
    assert result.p_value > 0.5


def test_verdict_follows_the_interval_even_where_the_sign_test_does_not_reject():
    # 5-0: the Wilson interval [0.566, 1] lies above 0.5, the exact test gives p = 0.0625.
    result = stats.win_rate(5, 0, 0)
    assert result.verdict == "better" and result.p_value == pytest.approx(0.0625)
    assert result.ci_low == pytest.approx(5 / (5 + Z95**2)) and result.ci_high == pytest.approx(1.0)


def test_no_decisive_votes_means_no_rate_and_inconclusive():
    result = stats.win_rate(0, 0, 4)
    assert result.ties == 4 and result.verdict == "inconclusive"
    assert (result.win_rate, result.ci_low, result.ci_high, result.p_value) == (None, None, None, None)


def test_other_confidence_levels_use_the_oracle():
    result = stats.proportion(17, 8, confidence=0.9)
    interval = binomtest(17, 25).proportion_ci(0.9, method="wilson")
    assert (result.ci_low, result.ci_high) == (pytest.approx(interval.low), pytest.approx(interval.high))
    assert result.trials == 25


def test_first_side_share_is_the_position_bias_check():
    share = stats.first_side_share(58, 42)
    assert share.rate == pytest.approx(0.58) and share.trials == 100
    assert share.p_value == pytest.approx(binomtest(58, 100).pvalue)
    assert share.ci_low < 0.5 < share.ci_high  # 58/100 is not yet evidence of a position bias
    assert stats.first_side_share(70, 30).ci_low > 0.5  # 70/100 is


@pytest.mark.parametrize("bad", [-1, 2.5, True, None, "3"])
def test_counts_must_be_non_negative_integers(bad):
    with pytest.raises(ValueError):
        stats.win_rate(bad, 1, 0)
    with pytest.raises(ValueError):
        stats.win_rate(1, 1, bad)


def test_confidence_must_lie_strictly_between_0_and_1():
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError):
            stats.proportion(3, 4, confidence=bad)


# --- Bradley–Terry ----------------------------------------------------------------------

TRUE = np.array([-1.5, -0.8, -0.2, 0.3, 0.9, 1.6])


def tournament(strengths: np.ndarray, games_per_pair: int, seed: int = 3) -> np.ndarray:
    """Every pair plays ``games_per_pair`` games; i beats j with probability σ(s_i − s_j)."""
    rng = np.random.default_rng(seed)
    n = len(strengths)
    wins = np.zeros((n, n), dtype=int)
    for i in range(n):
        for j in range(i + 1, n):
            k = rng.binomial(games_per_pair, 1 / (1 + math.exp(strengths[j] - strengths[i])))
            wins[i, j], wins[j, i] = k, games_per_pair - k
    return wins


def mle_by_scipy(wins: np.ndarray) -> np.ndarray:
    """Unregularised Bradley–Terry ML, centred: minimise the negative log-likelihood directly."""

    def nll(theta: np.ndarray) -> float:
        diff = theta[:, None] - theta[None, :]
        return float(np.sum(wins * np.logaddexp(0.0, -diff)))

    theta = minimize(nll, np.zeros(len(wins)), method="BFGS", options={"gtol": 1e-10}).x
    return theta - theta.mean()


def test_synthetic_tournament_recovers_the_known_order():
    wins = tournament(TRUE, 300)
    fit = stats.bradley_terry(wins)
    estimate = np.array([m.strength for m in fit.models])
    assert list(np.argsort(estimate)) == list(np.argsort(TRUE))
    assert np.allclose(estimate, TRUE - TRUE.mean(), atol=0.2)
    assert fit.connected and {m.component for m in fit.models} == {0}
    for i, m in enumerate(fit.models):
        assert m.games == 300 * 5 and m.wins == wins[i].sum() and m.losses == wins[:, i].sum()
        assert m.ci_low < TRUE[i] - TRUE.mean() < m.ci_high  # every true strength is covered here


def test_point_estimate_matches_an_independent_maximum_likelihood_fit():
    wins = tournament(TRUE, 200, seed=8)
    fit = stats.bradley_terry(wins, alpha=1e-9, rounds=5)
    estimate = np.array([m.strength for m in fit.models])
    assert np.allclose(estimate, mle_by_scipy(wins), atol=1e-4)
    # The default regularisation (a virtual win or two each way) shrinks 200 games a pair a little.
    regularised = np.array([m.strength for m in stats.bradley_terry(wins).models])
    assert regularised.std() < estimate.std() and list(np.argsort(regularised)) == list(np.argsort(estimate))
    assert np.allclose(regularised, estimate, rtol=0.05)


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_games():
    small, large = stats.bradley_terry(tournament(TRUE, 30)), stats.bradley_terry(tournament(TRUE, 3000))
    for fit in (small, large):
        assert fit.rounds == stats.BOOTSTRAP_ROUNDS and fit.confidence == 0.95
        for m in fit.models:
            assert m.ci_low <= m.strength <= m.ci_high and m.ci_low < m.ci_high
    width = [np.mean([m.ci_high - m.ci_low for m in fit.models]) for fit in (small, large)]
    assert width[1] < width[0] / 5  # 100 times the games: about a tenth of the width


def test_same_seed_same_answer_and_the_seed_matters():
    wins = tournament(TRUE, 40)
    first = stats.bradley_terry(wins, seed=5)
    stats._bradley_terry_cached.cache_clear()  # recompute, not a cached object
    again = stats.bradley_terry(wins, seed=5)
    assert again == first and again is not first
    other = stats.bradley_terry(wins, seed=6)
    assert [m.strength for m in other.models] == [m.strength for m in first.models]
    assert [m.ci_low for m in other.models] != [m.ci_low for m in first.models]


def test_models_without_games_get_no_strength():
    wins = np.zeros((4, 4), dtype=int)
    wins[0, 2], wins[2, 0] = 7, 3
    fit = stats.bradley_terry(wins)
    a, no_games, c, also_none = fit.models
    assert a.strength > 0 > c.strength and a.strength == pytest.approx(-c.strength)
    for m in (no_games, also_none):
        assert (m.strength, m.ci_low, m.ci_high, m.component, m.games, m.wins) == (None, None, None, None, 0, 0)
    assert fit.connected


def test_unbeaten_and_winless_models_get_finite_extreme_strengths():
    wins = tournament(TRUE[:4], 50)
    wins = np.pad(wins, ((0, 2), (0, 2)))
    wins[4, :4] = 10  # model 4 won every one of its 40 games
    wins[:4, 5] = 10  # model 5 lost every one of its 40 games
    fit = stats.bradley_terry(wins)
    strengths = [m.strength for m in fit.models]
    assert all(math.isfinite(s) for s in strengths)
    assert max(strengths) == strengths[4] and min(strengths) == strengths[5]
    for m in fit.models:
        assert m.ci_low <= m.strength <= m.ci_high and m.ci_low < m.ci_high  # no zero-width boundary
    assert fit.models[4].losses == 0 and fit.models[5].wins == 0


def test_disconnected_groups_are_flagged_and_ordered_within_each():
    wins = np.zeros((5, 5), dtype=int)
    wins[0, 1], wins[1, 0] = 30, 10   # group of three: 0 > 1 > 2
    wins[1, 2], wins[2, 1] = 25, 15
    wins[0, 2], wins[2, 0] = 35, 5
    wins[3, 4], wins[4, 3] = 4, 16    # group of two, never compared with the first: 4 > 3
    fit = stats.bradley_terry(wins)
    assert not fit.connected
    assert [m.component for m in fit.models] == [0, 0, 0, 1, 1]  # 0 = the larger group
    s = [m.strength for m in fit.models]
    assert s[0] > s[1] > s[2] and s[4] > s[3]


def test_diagonal_is_ignored_and_empty_input_fits_nothing():
    wins = tournament(TRUE[:3], 20)
    with_self = wins.copy()
    np.fill_diagonal(with_self, 99)
    assert stats.bradley_terry(with_self) == stats.bradley_terry(wins)
    empty = stats.bradley_terry(np.zeros((3, 3)))
    assert all(m.strength is None for m in empty.models) and empty.connected
    assert stats.bradley_terry(np.zeros((0, 0))).models == ()


@pytest.mark.parametrize("bad", [
    [[0, 1, 2], [1, 0, 2]],            # not square
    [[0, -1], [2, 0]],                 # negative
    [[0, 1.5], [2, 0]],                # not a whole number
    [[0, float("nan")], [2, 0]],
    [[0, float("inf")], [2, 0]],
    [1, 2, 3],                         # not a matrix
])
def test_bad_matrices_are_refused(bad):
    with pytest.raises(ValueError):
        stats.bradley_terry(bad)


def test_bad_parameters_are_refused():
    wins = tournament(TRUE[:3], 5)
    for kwargs in ({"rounds": 0}, {"confidence": 1.0}, {"alpha": 0.0}):
        with pytest.raises(ValueError):
            stats.bradley_terry(wins, **kwargs)
