"""The leaderboard: the base model and every adapter ranked by Bradley–Terry strength.

Fitted on every non-tie preference pair between clips of two different models (studio A/B
choices, rankings and, once they exist, evaluation votes). One GROUP BY over the covering
index ``ix_preference_adapters`` turns any number of pairs into a model-by-model win matrix,
and the fit runs on that matrix, so the cost grows with the number of models, not of pairs.

Deleted adapters: their games stay in the fit (they are real evidence about the models they
met, and deleting a registry entry must not move everyone else's strength), but they are
listed only with ``include_deleted``.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, Preference
from training_dashboard.services import stats
from training_dashboard.services.counters import adapter_label


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def read_leaderboard(db: Database, include_deleted: bool = False) -> schemas.Leaderboard:
    """Rank the base model and the adapters; models without games come last, unranked."""
    with db.session() as session:
        counts = session.execute(
            select(Preference.chosen_adapter_id, Preference.rejected_adapter_id, Preference.tie, func.count())
            .group_by(Preference.chosen_adapter_id, Preference.rejected_adapter_id, Preference.tie)
        ).all()
        registered = {a.id: a for a in session.execute(
            select(Adapter.id, Adapter.name, Adapter.version, Adapter.is_active)).all()}
    games = [(chosen, rejected, n) for chosen, rejected, tie, n in counts if chosen != rejected and not tie]
    ties = sum(n for chosen, rejected, tie, n in counts if chosen != rejected and tie)
    played = {key for chosen, rejected, _ in games for key in (chosen, rejected)}
    # Row order: base, registered adapters, then deleted adapters that played.
    keys: list[int | None] = [None, *sorted(registered), *sorted(k for k in played if k is not None
                                                                  and k not in registered)]
    index = {key: i for i, key in enumerate(keys)}
    wins = np.zeros((len(keys), len(keys)), dtype=np.int64)
    for chosen, rejected, n in games:
        wins[index[chosen], index[rejected]] += n
    fit = stats.bradley_terry(wins)

    entries = []
    for key, model in zip(keys, fit.models, strict=True):
        adapter = registered.get(key) if key is not None else None
        deleted = key is not None and adapter is None
        if deleted and not include_deleted:
            continue
        entries.append(schemas.LeaderboardEntry(
            rank=None, adapter_id=key,
            label=adapter_label(key, adapter.name if adapter else None, adapter.version if adapter else None),
            is_active=adapter.is_active if adapter else None, deleted=deleted,
            strength=_round(model.strength), ci_low=_round(model.ci_low), ci_high=_round(model.ci_high),
            games=model.games, wins=model.wins, losses=model.losses,
            win_rate=round(model.wins / model.games, 4) if model.games else None, component=model.component,
        ))
    # Strongest first; unplayed models after, base first, then newest adapters first.
    entries.sort(key=lambda e: (e.strength is None, -(e.strength or 0.0), e.adapter_id is not None,
                                -(e.adapter_id or 0)))
    for rank, entry in enumerate((e for e in entries if e.strength is not None), start=1):
        entry.rank = rank
    return schemas.Leaderboard(
        items=entries, games=sum(n for _, _, n in games), ties=ties, connected=fit.connected,
        confidence=fit.confidence, bootstrap_rounds=fit.rounds, regularization=fit.regularization,
    )
