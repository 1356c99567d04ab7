"""Statistics for blind evaluations and the leaderboard: pure functions on counts.

The numerics come from maintained libraries, wrapped here so every caller reads the same
definitions:

- ``scipy.stats.binomtest``: the exact two-sided binomial test against 0.5 (the sign test)
  and, through its ``proportion_ci(method="wilson")``, the Wilson score interval (no
  continuity correction), which stays inside [0, 1] and behaves at 0 or n successes.
- ``choix.ilsr_pairwise_dense``: the Bradley–Terry maximum-likelihood estimate from a dense
  win-count matrix (iterative Luce spectral ranking), with choix's ``alpha`` regularisation.
- ``scipy.sparse.csgraph.connected_components``: which models were ever compared, directly or
  through others (strengths in different components are only related through the prior).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

CONFIDENCE = 0.95
# choix adds `alpha` to every transition rate of the LSR Markov chain. With strengths near
# each other that is about 2·alpha virtual wins each way between every two models, so 0.5 is
# add-one smoothing: a model that won or lost every game still gets a finite strength, and
# models that never met are tied together weakly instead of being unidentifiable. Against
# thousands of real games it is negligible.
REGULARIZATION = 0.5
# Each refit is warm-started from the point estimate and costs ~0.2-0.3 ms of CPU: 200 rounds keep
# a cold leaderboard (counts changed since the last answer) well inside its 200 ms budget on a
# shared 2-core machine. The interval ends move by about a tenth of their half-width between
# seeds at this size; the fixed seed makes every answer reproducible.
BOOTSTRAP_ROUNDS = 200
BOOTSTRAP_SEED = 12

Verdict = Literal["better", "worse", "inconclusive"]


@dataclass(frozen=True)
class Proportion:
    """Successes among non-tie trials with its Wilson interval and sign-test p-value.

    ``rate``, ``ci_low``, ``ci_high`` and ``p_value`` are None when there are no trials.
    """

    successes: int
    failures: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None

    @property
    def trials(self) -> int:
        return self.successes + self.failures


@dataclass(frozen=True)
class WinRate:
    """A candidate's record against a baseline: ties are counted but excluded from the rate."""

    wins: int
    losses: int
    ties: int
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: Verdict


def verdict_fields(win: WinRate) -> dict[str, Any]:
    """``win`` as the fields of ``schemas.Verdict`` (the full and the attentive results)."""
    return {"candidate_wins": win.wins, "baseline_wins": win.losses, "ties": win.ties, "win_rate": win.win_rate,
            "ci_low": win.ci_low, "ci_high": win.ci_high, "p_value": win.p_value, "verdict": win.verdict}


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def proportion(successes: int, failures: int, confidence: float = CONFIDENCE) -> Proportion:
    """Rate of ``successes`` among ``successes + failures``, its Wilson interval at
    ``confidence`` and the two-sided exact binomial p-value against 0.5.

    Raises:
        ValueError: a negative or non-integer count, or a confidence outside (0, 1).
    """
    successes, failures = _count(successes, "successes"), _count(failures, "failures")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    trials = successes + failures
    if trials == 0:
        return Proportion(successes, failures, None, None, None, None)
    from scipy.stats import binomtest  # imported on first use: scipy and choix cost ~1 s of app start-up

    test = binomtest(successes, trials, 0.5, alternative="two-sided")
    interval = test.proportion_ci(confidence_level=confidence, method="wilson")
    return Proportion(successes, failures, successes / trials, float(interval.low), float(interval.high),
                      float(test.pvalue))


def verdict(ci_low: float | None, ci_high: float | None) -> Verdict:
    """"better" when the whole interval lies above 0.5, "worse" when below, else "inconclusive"."""
    if ci_low is not None and ci_low > 0.5:
        return "better"
    if ci_high is not None and ci_high < 0.5:
        return "worse"
    return "inconclusive"


def win_rate(wins: int, losses: int, ties: int, confidence: float = CONFIDENCE) -> WinRate:
    """The evaluation result: win rate with ties excluded, Wilson interval, sign-test p-value
    and the verdict drawn from the interval.

    Raises:
        ValueError: a negative or non-integer count.
    """
    ties = _count(ties, "ties")
    p = proportion(wins, losses, confidence)
    return WinRate(p.successes, p.failures, ties, p.rate, p.ci_low, p.ci_high, p.p_value,
                   verdict(p.ci_low, p.ci_high))


def first_side_share(first: int, second: int, confidence: float = CONFIDENCE) -> Proportion:
    """Share of non-tie votes that went to the clip played first (a position-bias check: about
    0.5 with an interval covering 0.5 when raters judge the music, not the order)."""
    return proportion(first, second, confidence)


# --- Bradley–Terry ----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelStrength:
    """One model's Bradley–Terry log-strength with its bootstrap interval.

    Strengths are centred on the mean of the models that played; P(i beats j) =
    1 / (1 + exp(s_j - s_i)). None for a model without games.
    ``component`` numbers the connected groups of compared models, 0 the largest.
    """

    strength: float | None
    ci_low: float | None
    ci_high: float | None
    games: int
    wins: int
    losses: int
    component: int | None


@dataclass(frozen=True)
class BradleyTerryFit:
    models: tuple[ModelStrength, ...]  # in the order of the matrix rows
    connected: bool  # every model with games is linked to every other through games
    rounds: int
    confidence: float
    regularization: float


def _win_matrix(wins: ArrayLike) -> NDArray[np.float64]:
    matrix = np.asarray(wins, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"wins must be a square matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0) or np.any(matrix != np.round(matrix)):
        raise ValueError("wins must hold non-negative whole numbers")
    matrix = matrix.copy()
    np.fill_diagonal(matrix, 0.0)  # a model against itself says nothing about strengths
    return matrix


def _fit(matrix: NDArray[np.float64], alpha: float, initial: NDArray[np.float64] | None = None,
         tol: float = 1e-8) -> NDArray[np.float64]:
    import choix

    return choix.ilsr_pairwise_dense(matrix, alpha=alpha, initial_params=initial, max_iter=1000, tol=tol)


def bradley_terry(wins: ArrayLike, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED,
                  confidence: float = CONFIDENCE, alpha: float = REGULARIZATION) -> BradleyTerryFit:
    """Fit Bradley–Terry strengths to an aggregated win-count matrix, with bootstrap intervals.

    ``wins[i][j]`` is how often model i beat model j (ties left out; the diagonal is ignored).
    Models without games get no strength; the others are fitted together with choix's
    regularisation ``alpha`` (see ``REGULARIZATION``). The intervals are percentile intervals
    of a parametric bootstrap: each round redraws every pair's wins from
    Binomial(games between them, fitted probability) and refits. Same input and seed, same
    answer.

    Raises:
        ValueError: not a square matrix of non-negative whole numbers, or bad parameters.
    """
    matrix = _win_matrix(wins)
    if rounds < 1 or not 0 < confidence < 1 or alpha <= 0:
        raise ValueError("rounds must be >= 1, confidence in (0, 1) and alpha > 0")
    counts = tuple(tuple(int(v) for v in row) for row in matrix)
    return _bradley_terry_cached(counts, rounds, seed, confidence, alpha)


@lru_cache(maxsize=32)
def _bradley_terry_cached(counts: tuple[tuple[int, ...], ...], rounds: int, seed: int, confidence: float,
                          alpha: float) -> BradleyTerryFit:
    # The answer depends on the counts alone, so an unchanged leaderboard is served from here.
    matrix = np.array(counts, dtype=float).reshape(len(counts), len(counts))
    model_wins, model_losses = matrix.sum(axis=1), matrix.sum(axis=0)
    played = np.flatnonzero(model_wins + model_losses > 0)
    strength = np.full(len(matrix), np.nan)
    low, high = strength.copy(), strength.copy()
    component = np.full(len(matrix), -1)
    connected = True
    if len(played):
        sub = matrix[np.ix_(played, played)]
        from scipy.sparse.csgraph import connected_components

        n_comp, labels = connected_components(sub + sub.T > 0, directed=False)
        by_size = np.argsort(-np.bincount(labels), kind="stable")  # relabel: 0 = largest group
        component[played] = np.argsort(by_size)[labels]
        connected = n_comp == 1
        theta = _fit(sub, alpha)
        strength[played] = theta
        low[played], high[played] = _bootstrap(sub, theta, rounds, seed, confidence, alpha)
    models = tuple(
        ModelStrength(
            strength=None if np.isnan(strength[i]) else float(strength[i]),
            ci_low=None if np.isnan(low[i]) else float(low[i]),
            ci_high=None if np.isnan(high[i]) else float(high[i]),
            games=int(model_wins[i] + model_losses[i]), wins=int(model_wins[i]), losses=int(model_losses[i]),
            component=None if component[i] < 0 else int(component[i]),
        )
        for i in range(len(matrix))
    )
    return BradleyTerryFit(models, connected, rounds, confidence, alpha)


def _bootstrap(matrix: NDArray[np.float64], theta: NDArray[np.float64], rounds: int, seed: int,
               confidence: float, alpha: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile interval of refits on games redrawn from the fitted model, pair by pair.

    Parametric rather than resampling the observed games: a pair with a 5-0 record would
    otherwise redraw 5-0 every round and report a zero-width interval.
    """
    upper_i, upper_j = np.triu_indices(len(matrix), k=1)
    games = (matrix + matrix.T)[upper_i, upper_j].astype(np.int64)
    from scipy.special import expit

    p_win = expit(theta[upper_i] - theta[upper_j])
    rng = np.random.default_rng(seed)
    fits = np.empty((rounds, len(matrix)))
    resampled = np.zeros_like(matrix)
    for r in range(rounds):
        draw = rng.binomial(games, p_win)
        resampled[upper_i, upper_j] = draw
        resampled[upper_j, upper_i] = games - draw
        fits[r] = _fit(resampled, alpha, initial=theta, tol=1e-4)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(fits, tail, axis=0), np.percentile(fits, 100 - tail, axis=0)
    # The observed record is itself a possible redraw; the refits' 1e-4 tolerance must not push
    # the point estimate just outside an interval whose edge it is (a 5-0 record, say).
    return np.minimum(low, theta), np.maximum(high, theta)
