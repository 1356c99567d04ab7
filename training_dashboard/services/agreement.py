"""Agreement and preference consistency, kept incrementally in each feedback transaction.

A rater's vote on a clip is their FIRST rating of it (re-ratings do not move agreement; the
queue never serves a clip twice to one rater). When a rater's first rating of a clip arrives:

- the clip's Krippendorff coincidences move from its old size m to m + 1
  (``coincidence_count``), so alpha is computed from a few dozen integers;
- every other rater of the clip and this one gain a pair and |difference| (``rater``);
- this rater's earlier preferences on the prompt become checkable against their ratings.

When a preference arrives, it is checked against the rater's ratings of both clips, and the
3-cycles it closes among the rater's choices on that prompt are counted.

:func:`rebuild_agreement` recomputes all of it from the source rows (repair, the bench).
Rows are locked by bumping ``audio_sample.rater_count`` first, so on PostgreSQL two raters
rating one clip at once are applied one after the other.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from training_dashboard.db.models import CoincidenceCount, Preference, Rater, Rating
from training_dashboard.services.quality import (
    SCALES,
    contradicts,
    direct_figures,
    new_cycles,
    unit_coincidences,
)

RATER_FIGURES = ("shared_clips", "pair_count", "pair_distance", "prefs_checked", "contradictions", "triads")


def first_rating(session: Session, rater_id: int, audio_id: int) -> int | None:
    return session.scalar(select(Rating.rating).where(Rating.rater_id == rater_id, Rating.audio_id == audio_id)
                          .order_by(Rating.id).limit(1))


def note_first_rating(session: Session, audio_id: int, prompt_id: int, rater_id: int, value: int) -> None:
    """Account for a rater's first rating of a clip (call before the rating row is inserted)."""
    others: dict[int, int] = {}
    for other, rating in session.execute(
        select(Rating.rater_id, Rating.rating).where(Rating.audio_id == audio_id, Rating.rater_id.is_not(None))
        .order_by(Rating.id)
    ):
        others.setdefault(other, rating)
    others.pop(rater_id, None)
    cells: dict[tuple[int, int, int], int] = defaultdict(int)
    raters: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    m = len(others)
    if m:
        old = [0] * len(SCALES)
        for rating in others.values():
            old[rating - 1] += 1
        new = list(old)
        new[value - 1] += 1
        if m >= 2:
            for (c, k), n in unit_coincidences(old).items():
                cells[(m, c, k)] -= n
            cells[(m, 0, 0)] -= 1
        for (c, k), n in unit_coincidences(new).items():
            cells[(m + 1, c, k)] += n
        cells[(m + 1, 0, 0)] += 1
        for other, rating in others.items():
            for who in (other, rater_id):
                raters[who]["pair_count"] += 1
                raters[who]["pair_distance"] += abs(value - rating)
        raters[rater_id]["shared_clips"] += 1
        if m == 1:
            raters[next(iter(others))]["shared_clips"] += 1
    for chosen, rejected in session.execute(
        select(Preference.chosen_id, Preference.rejected_id).where(
            Preference.rater_id == rater_id, Preference.prompt_id == prompt_id, Preference.tie.is_(False))
    ):
        if audio_id not in (chosen, rejected):
            continue
        other_rating = first_rating(session, rater_id, rejected if chosen == audio_id else chosen)
        if other_rating is None:
            continue
        raters[rater_id]["prefs_checked"] += 1
        pair = (value, other_rating) if chosen == audio_id else (other_rating, value)
        raters[rater_id]["contradictions"] += int(bool(contradicts(*pair)))
    _apply(session, cells, raters)


def note_preference(session: Session, pref: Preference) -> None:
    """Account for a non-tie preference by a rater (call after it is flushed: its id is set)."""
    if pref.tie or pref.rater_id is None:
        return
    figures: dict[str, int] = defaultdict(int)
    chosen, rejected = (first_rating(session, pref.rater_id, a) for a in (pref.chosen_id, pref.rejected_id))
    verdict = contradicts(chosen, rejected)
    if verdict is not None:
        figures["prefs_checked"] += 1
        figures["contradictions"] += int(verdict)
    earlier = {(a, b) for a, b in session.execute(
        select(Preference.chosen_id, Preference.rejected_id).where(
            Preference.rater_id == pref.rater_id, Preference.prompt_id == pref.prompt_id,
            Preference.tie.is_(False), Preference.id < (pref.id or 0))
    )}
    figures["triads"] += new_cycles(earlier, pref.chosen_id, pref.rejected_id)
    _apply(session, {}, {pref.rater_id: figures})


def _apply(session: Session, cells: dict[tuple[int, int, int], int], raters: dict[int, dict[str, int]]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # sorted: no deadlocks between writers on PostgreSQL; one multi-row upsert (see counters.bump)
    rows = [{"m": m, "c": c, "k": k, "count": n} for (m, c, k), n in sorted(cells.items()) if n]
    if rows:
        stmt = insert(CoincidenceCount).values(rows)
        session.execute(stmt.on_conflict_do_update(index_elements=["m", "c", "k"],
                                                   set_={"count": CoincidenceCount.count + stmt.excluded.count}))
    for rater_id in sorted(raters):
        changes = {name: getattr(Rater, name) + n for name, n in raters[rater_id].items() if n}
        if changes:
            session.execute(update(Rater).where(Rater.id == rater_id).values(**changes))


def rebuild_agreement(session: Session) -> None:
    """Recompute coincidences and every rater's agreement figures from the source rows."""
    figures = direct_figures(session)
    session.execute(CoincidenceCount.__table__.delete())
    if figures.cells:
        session.execute(CoincidenceCount.__table__.insert(),
                        [{"m": m, "c": c, "k": k, "count": n} for (m, c, k), n in figures.cells.items() if n])
    session.execute(update(Rater).values(**dict.fromkeys(RATER_FIGURES, 0)))
    for rater_id, values in figures.raters.items():
        session.execute(update(Rater).where(Rater.id == rater_id).values(**values))
