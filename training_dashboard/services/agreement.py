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

from sqlalchemy import select, text, update
from sqlmodel import Session

from training_dashboard.db.increments import add_by_id, add_to_rows
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


_RATERS_CHOICES = text("SELECT chosen_id, rejected_id FROM preference "
                       "WHERE rater_id = :rater_id AND prompt_id = :prompt_id AND NOT tie")
Cells = dict[tuple[int, int, int], int]
Figures = dict[int, dict[str, int]]


def first_rating_changes(session: Session, others: dict[int, int], prompt_id: int, audio_id: int, rater_id: int,
                         value: int) -> tuple[Cells, Figures]:
    """What a rater's first rating of a clip moves: the coincidence cells and the raters' figures.

    ``others`` maps each other rater of the clip to their first rating of it (the caller read
    them in the transaction, under the clip's lock). Reads only the rater's preferences on the
    prompt; :func:`apply_changes` writes the result.
    """
    others = {other: rating for other, rating in others.items() if other != rater_id}
    cells: Cells = defaultdict(int)
    raters: Figures = defaultdict(lambda: defaultdict(int))
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
    for chosen, rejected in session.connection().execute(_RATERS_CHOICES, {"rater_id": rater_id,
                                                                           "prompt_id": prompt_id}):
        if audio_id not in (chosen, rejected):
            continue
        other_rating = first_rating(session, rater_id, rejected if chosen == audio_id else chosen)
        if other_rating is None:
            continue
        raters[rater_id]["prefs_checked"] += 1
        pair = (value, other_rating) if chosen == audio_id else (other_rating, value)
        raters[rater_id]["contradictions"] += int(bool(contradicts(*pair)))
    return cells, raters


def note_preference(session: Session, pref: Preference) -> None:
    """Account for a non-tie preference by a rater (call after it is inserted: its id is set)."""
    if pref.tie or pref.rater_id is None:
        return
    apply_changes(session, {}, {pref.rater_id: preference_changes(session, pref)})


def preference_changes(session: Session, pref: Preference) -> dict[str, int]:
    """What a non-tie preference moves in its rater's figures (read with prebuilt statements:
    this runs inside the write transaction)."""
    figures: dict[str, int] = defaultdict(int)
    if pref.tie or pref.rater_id is None:
        return figures
    conn = session.connection()
    firsts: dict[int, int] = {}
    for audio_id, rating in conn.execute(_FIRST_RATINGS, {"rater_id": pref.rater_id, "a": pref.chosen_id,
                                                          "b": pref.rejected_id}):
        firsts.setdefault(audio_id, rating)
    verdict = contradicts(firsts.get(pref.chosen_id), firsts.get(pref.rejected_id))
    if verdict is not None:
        figures["prefs_checked"] += 1
        figures["contradictions"] += int(verdict)
    earlier = {(a, b) for a, b in conn.execute(_EARLIER_CHOICES, {
        "rater_id": pref.rater_id, "prompt_id": pref.prompt_id, "id": pref.id or 0})}
    figures["triads"] += new_cycles(earlier, pref.chosen_id, pref.rejected_id)
    return figures


_FIRST_RATINGS = text("SELECT audio_id, rating FROM rating WHERE rater_id = :rater_id AND audio_id IN (:a, :b) "
                      "ORDER BY id")
_EARLIER_CHOICES = text(_RATERS_CHOICES.text + " AND id < :id")


def apply_changes(session: Session, cells: Cells, raters: Figures) -> None:
    """Add the cells to ``coincidence_count`` and each rater's deltas to their row: two
    statements at most, rows in sorted order (no deadlocks between writers on PostgreSQL)."""
    conn = session.connection()
    add_to_rows(conn, "coincidence_count", ("m", "c", "k"), "count",
                [(m, c, k, n) for (m, c, k), n in sorted(cells.items()) if n])
    add_by_id(conn, "rater", raters)


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
