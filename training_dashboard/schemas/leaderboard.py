"""The Bradley–Terry leaderboard of the base model and the adapters."""

from __future__ import annotations

from training_dashboard.schemas.common import Model


class LeaderboardEntry(Model):
    """One model on the leaderboard. ``strength`` is its Bradley–Terry log-strength, centred
    on the mean of the models that played: P(a beats b) = 1 / (1 + exp(strength_b − strength_a)).
    ``ci_low``/``ci_high`` bound it (bootstrap); all three are None for a model without games."""

    rank: int | None
    adapter_id: int | None  # None: the base model
    label: str  # "base", "name@version", or "adapter #N (deleted)"
    is_active: bool | None = None  # None for the base model and deleted adapters
    deleted: bool = False
    strength: float | None
    ci_low: float | None
    ci_high: float | None
    games: int
    wins: int
    losses: int
    win_rate: float | None  # wins / games, the raw record
    component: int | None  # connected group of compared models (0 = the largest); None without games


class Leaderboard(Model):
    items: list[LeaderboardEntry]
    games: int  # non-tie preference pairs between clips of two different models (all of them fitted)
    ties: int  # tie pairs between different models: counted, not fitted
    connected: bool  # False: some models were never compared, even indirectly; their strengths are not comparable
    confidence: float
    bootstrap_rounds: int
    regularization: float
