"""Running aggregates, updated in the same transaction as the feedback they count.

Feedback statistics read a few dozen counter rows instead of scanning a million ratings.
Counters are bumped in sorted name order so concurrent writers on PostgreSQL never
deadlock. :func:`rebuild_counters` recomputes them from the source tables.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlmodel import Session

from training_dashboard.db.increments import add_to_rows
from training_dashboard.db.models import Adapter, AudioSample, Counter, Preference, Rating
from training_dashboard.schemas import parse_int


def adapter_key(adapter_id: int | None) -> str:
    return "base" if adapter_id is None else str(adapter_id)


def adapter_label(adapter_id: int | None, name: str | None = None, version: str | None = None) -> str:
    """How feedback names the model of a clip: "base", "name@version", or a deleted adapter."""
    if adapter_id is None:
        return "base"
    return f"{name}@{version}" if name is not None else f"adapter #{adapter_id} (deleted)"


def adapter_labels(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """Labels for adapter keys ("base" or an id as text), with one query for the ids."""
    parsed = {key: parse_int(key) for key in keys}
    ids = {i for i in parsed.values() if i is not None}
    found = {a.id: a for a in session.scalars(select(Adapter).where(Adapter.id.in_(ids)))} if ids else {}
    labels = {}
    for key, adapter_id in parsed.items():
        adapter = found.get(adapter_id) if adapter_id is not None else None
        labels[key] = adapter_label(adapter_id, adapter and adapter.name, adapter and adapter.version)
    return labels


def bump(session: Session, deltas: dict[str, int]) -> None:
    """Add each delta to its counter (creating it at 0 first): one statement, names in order."""
    add_to_rows(session.connection(), "counter", ("name",), "value",
                [(name, deltas[name]) for name in sorted(deltas)])


def read_counters(session: Session) -> dict[str, int]:
    return {name: int(value) for name, value in session.execute(select(Counter.name, Counter.value))}


def rebuild_counters(session: Session) -> None:
    """Recompute every counter from the source tables (migrations, repair)."""
    session.execute(text("DELETE FROM counter"))
    deltas: dict[str, int] = {}
    for rating, n in session.execute(select(Rating.rating, func.count()).group_by(Rating.rating)):
        deltas[f"rating.{rating}"] = n
    for adapter_id, n, total in session.execute(
        select(Rating.adapter_id, func.count(), func.sum(Rating.rating)).group_by(Rating.adapter_id)
    ):
        deltas[f"adapter.{adapter_key(adapter_id)}.count"] = n
        deltas[f"adapter.{adapter_key(adapter_id)}.sum"] = int(total or 0)
    deltas["rated_samples"] = session.scalar(
        select(func.count()).select_from(AudioSample).where(AudioSample.rating_count > 0)
    ) or 0
    for tie, n in session.execute(select(Preference.tie, func.count()).group_by(Preference.tie)):
        deltas["preferences.ties" if tie else "preferences.pairs"] = n
    bump(session, {k: v for k, v in deltas.items() if v})
