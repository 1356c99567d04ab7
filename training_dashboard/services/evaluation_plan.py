"""Planning a blind evaluation: what a number of pairs can detect, and how many a win rate needs.

The test is the evaluation's own sign test: the exact two-sided binomial test of the
candidate's wins among the non-tie votes against 0.5 at ``alpha``. With ``m`` non-tie votes it
rejects when the wins reach ``k(m)``, the smallest count with P(X >= k) <= alpha / 2 under
X ~ Binomial(m, 0.5), or fall to ``m - k(m)`` (the distribution is symmetric). Its power at a
true win rate ``w`` is P(X >= k) + P(X <= m - k) with X ~ Binomial(m, w). Ties are assumed to
happen at ``tie_rate``, so of ``n`` pairs the non-tie ones are M ~ Binomial(n, 1 - tie_rate) and
the power is the mixture sum over m of P(M = m) * power(m).

Power is not monotone in ``n`` (the critical count moves in whole steps), so "pairs needed" is
the smallest ``n`` that reaches the power, as power tables report it; a few more pairs can dip
just below it again.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from sqlalchemy import func, select

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Evaluation

ALPHA = 0.05
POWER = 0.8
MAX_PAIRS = 5000
_SPREAD = 8.0  # standard deviations of M kept in the mixture sum (the rest weighs < 1e-15)


@lru_cache(maxsize=4)
def _critical(alpha: float) -> np.ndarray:
    """k(m) for m = 0..MAX_PAIRS (m + 1 where no count rejects: too few votes).

    P(X >= k) falls as k grows, so k(m) is found by stepping every m at once from the normal
    approximation until P(X >= k) <= alpha / 2 < P(X >= k - 1) (``binom.isf`` does the same
    search one m at a time: 1.7 s for the table).
    """
    from scipy.stats import binom, norm  # imported on first use, like services.stats

    m = np.arange(MAX_PAIRS + 1)
    k = np.ceil(m / 2 + norm.isf(alpha / 2) * np.sqrt(m) / 2).astype(np.int64)
    for _ in range(MAX_PAIRS):
        grow = binom.sf(k - 1, m, 0.5) > alpha / 2  # P(X >= k) still too likely
        if not grow.any():
            break
        k += grow
    for _ in range(MAX_PAIRS):
        shrink = (k > 0) & (binom.sf(k - 2, m, 0.5) <= alpha / 2)  # k - 1 would do too
        if not shrink.any():
            break
        k -= shrink
    return np.where(k <= m, k, m + 1)


def critical_count(m: int, alpha: float = ALPHA) -> int | None:
    """The fewest wins among ``m`` non-tie votes (up to MAX_PAIRS) that the test calls
    significant (None: none do)."""
    k = int(_critical(alpha)[m])
    return k if k <= m else None


def _power_given_m(m: np.ndarray, win_rate: float, alpha: float) -> np.ndarray:
    from scipy.stats import binom

    k = _critical(alpha)[m]
    upper = binom.sf(k - 1, m, win_rate)  # P(X >= k): 0 where k = m + 1 (no count rejects)
    lower = binom.cdf(m - k, m, win_rate)  # P(X <= m - k): 0 there too
    return np.where(k <= m, upper + lower, 0.0)


def _powers(ns: np.ndarray, win_rate: float, tie_rate: float, alpha: float) -> np.ndarray:
    """``sign_test_power`` for each number of pairs in ``ns`` at once."""
    if tie_rate == 0:
        return _power_given_m(ns, win_rate, alpha)
    from scipy.stats import binom

    p = 1 - tie_rate
    half = math.ceil(_SPREAD * math.sqrt(int(ns.max()) * p * tie_rate)) + 2
    m = np.rint(ns * p).astype(np.int64)[:, None] + np.arange(-half, half + 1)[None, :]
    weights = binom.pmf(m, ns[:, None], p)  # 0 outside 0..n
    m = np.clip(m, 0, ns[:, None])
    needed, where = np.unique(m, return_inverse=True)  # each m's power once
    return (weights * _power_given_m(needed, win_rate, alpha)[where.reshape(m.shape)]).sum(axis=1)


def sign_test_power(pairs: int, win_rate: float, tie_rate: float = 0.0, alpha: float = ALPHA) -> float:
    """Probability that the exact two-sided sign test rejects 0.5 with ``pairs`` pairs when the
    candidate wins a share ``win_rate`` of the non-tie votes and ties happen at ``tie_rate``."""
    _check(pairs, win_rate, tie_rate)
    return float(_powers(np.array([pairs]), win_rate, tie_rate, alpha)[0])


def detectable_win_rate(pairs: int, tie_rate: float = 0.0, alpha: float = ALPHA, power: float = POWER
                        ) -> float | None:
    """The smallest win rate above 0.5 (to 4 decimals, rounded up) detected with ``power``;
    None when even a candidate that always wins is not."""
    if sign_test_power(pairs, 1.0, tie_rate, alpha) < power:
        return None
    lo, hi = 0.5, 1.0
    while hi - lo > 1e-6:
        mid = (lo + hi) / 2
        if sign_test_power(pairs, mid, tie_rate, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return min(1.0, math.ceil(hi * 10_000) / 10_000)


def pairs_needed(win_rate: float, tie_rate: float = 0.0, alpha: float = ALPHA, power: float = POWER,
                 max_pairs: int = MAX_PAIRS) -> int | None:
    """The fewest pairs whose test reaches ``power`` at ``win_rate`` (None: none up to ``max_pairs``)."""
    _check(1, win_rate, tie_rate)
    if win_rate == 0.5:
        return None
    max_pairs = min(max_pairs, MAX_PAIRS)
    # With ties the power of n pairs mixes the powers of m <= n non-tie votes, so it never exceeds
    # their best: no n before the first m that reaches the power can, and none at all if no m does.
    reach = np.nonzero(_power_given_m(np.arange(max_pairs + 1), win_rate, alpha) >= power)[0]
    if not reach.size:
        return None
    for start in range(max(1, int(reach[0])), max_pairs + 1, 500):  # in blocks: the answer is usually near
        ns = np.arange(start, min(start + 500, max_pairs + 1))
        hits = np.nonzero(_powers(ns, win_rate, tie_rate, alpha) >= power)[0]
        if hits.size:
            return int(ns[hits[0]])
    return None


def _check(pairs: int, win_rate: float, tie_rate: float) -> None:
    if not 0 <= pairs <= MAX_PAIRS or not 0 <= win_rate <= 1 or not 0 <= tie_rate < 1:
        raise ValueError(f"need 0 <= pairs <= {MAX_PAIRS}, 0 <= win_rate <= 1 and 0 <= tie_rate < 1; "
                         f"got {pairs}, {win_rate}, {tie_rate}")


def past_tie_rate(db: Database) -> tuple[float, int]:
    """Ties among all votes of completed evaluations, and how many evaluations that is (0.0, 0 if none)."""
    with db.session() as session:
        n, votes, ties = session.execute(
            select(func.count(), func.coalesce(func.sum(Evaluation.votes), 0),
                   func.coalesce(func.sum(Evaluation.ties), 0)).where(Evaluation.status == "completed")).one()
    return (ties / votes if votes else 0.0), int(n)


def plan_evaluation(db: Database, pairs: int, expected_win_rate: float | None) -> schemas.EvaluationPlan:
    """What ``pairs`` pairs detect at 80 % power (two-sided 5 %), ties at the rate of past
    completed evaluations, and the pairs ``expected_win_rate`` needs."""
    tie_rate, past = past_tie_rate(db)
    tie_rate = min(tie_rate, 0.99)
    return schemas.EvaluationPlan(
        pairs=pairs, tie_rate=round(tie_rate, 4), past_evaluations=past, alpha=ALPHA, power=POWER,
        detectable_win_rate=detectable_win_rate(pairs, tie_rate),
        expected_win_rate=expected_win_rate,
        pairs_needed=None if expected_win_rate is None else pairs_needed(expected_win_rate, tie_rate),
        max_pairs=MAX_PAIRS,
    )
