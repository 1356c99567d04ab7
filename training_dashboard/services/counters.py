"""Running aggregates, updated in the same transaction as the feedback they count.

Feedback statistics read a few dozen counter rows instead of scanning a million ratings.
Counters are bumped in sorted name order so concurrent writers on PostgreSQL never
deadlock. :func:`rebuild_counters` recomputes them from the source tables.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from training_dashboard.db.models import AudioSample, Counter, Preference, Rating


def adapter_key(adapter_id: int | None) -> str:
    return "base" if adapter_id is None else str(adapter_id)


def bump(session: Session, deltas: dict[str, int]) -> None:
    """Add each delta to its counter (creating it at 0 first)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for name in sorted(deltas):
        stmt = insert(Counter).values(name=name, value=deltas[name])
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + deltas[name]})
        session.execute(stmt)


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
