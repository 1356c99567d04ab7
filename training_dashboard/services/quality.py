"""Data quality of the feedback: agreement, raters, preference consistency, coverage.

The statistics are pure functions over plain values, easy to test against published ones.
Two roads lead to the same report: :func:`feedback_quality` reads the figures kept
incrementally with every rating and preference (``services/agreement.py``, a few dozen
rows, so it stays fast at a million ratings), and :func:`compute_quality` recomputes it from
the raw rows (the bench's and the tests' exactness check, and the repair path).

Choices: a rater's vote on a clip is their first rating of it. Krippendorff's alpha (ordinal)
is computed exactly (rational arithmetic) from the coincidence matrix over clips with at
least two raters; the ``krippendorff`` package is the oracle it is tested against. A rater's
agreement is the mean absolute difference between their rating and each other rater's
rating of the same clip; raters above median + max(3 scaled MADs, 0.5 star) are flagged. How each rater listened (median
share heard, fast decisions, the unattentive flag) is defined in ``services/listening_stats.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from fractions import Fraction

import krippendorff
import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import AudioSample, CoincidenceCount, Preference, Rater, Rating
from training_dashboard.services.coverage import coverage
from training_dashboard.services.listening_stats import RaterFigures, direct_listening, stored_listening

MIN_SHARED = 5  # a rater's distance counts toward outlier flags from this many shared clips
SCALES = (1, 2, 3, 4, 5)


# --- pure statistics ---------------------------------------------------------------------


def value_counts(units: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-unit counts of each star (rows: units in ascending id order, columns: 1..5)."""
    _, index = np.unique(units, return_inverse=True)
    counts = np.zeros((int(index.max()) + 1 if len(index) else 0, len(SCALES)), dtype=np.int64)
    np.add.at(counts, (index, values.astype(np.int64) - 1), 1)
    return counts


def ordinal_alpha(counts: np.ndarray) -> float | None:
    """Krippendorff's alpha (ordinal) by the ``krippendorff`` package, from unit x star
    counts; None when undefined (no unit with two values, or a single value overall)."""
    pairable = counts[counts.sum(axis=1) >= 2]
    if len(pairable) == 0 or np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None
    return float(krippendorff.alpha(value_counts=pairable, value_domain=list(SCALES),
                                    level_of_measurement="ordinal"))


def unit_coincidences(counts: Sequence[int]) -> dict[tuple[int, int], int]:
    """One unit's coincidence numerators n_c * (n_k - [c == k]) for stars c, k (nonzero only)."""
    out = {}
    for c, n_c in enumerate(counts, start=1):
        for k, n_k in enumerate(counts, start=1):
            n = n_c * (n_k - (c == k))
            if n:
                out[(c, k)] = n
    return out


def alpha_from_coincidences(cells: dict[tuple[int, int, int], int]) -> float | None:
    """Ordinal alpha, exactly, from coincidence numerators per unit size m (c = k = 0 rows,
    the unit counts, are ignored): o_ck = sum_m P_m[c][k] / (m - 1).

    Integer arithmetic throughout: o is scaled by L = lcm(m - 1) and the ordinal distance by
    2, which cancel in alpha = 1 - (n - 1) * sum(o * d) / sum(n_c * n_k * d).
    """
    sizes = {m for (m, c, k), n in cells.items() if c and k and m >= 2 and n}
    if not sizes:
        return None
    scale = math.lcm(*(m - 1 for m in sizes))
    o: dict[tuple[int, int], int] = defaultdict(int)
    for (m, c, k), n in cells.items():
        if c and k and m >= 2 and n:
            o[(c, k)] += n * (scale // (m - 1))
    n_c = {c: sum(o[(c, k)] for k in SCALES) for c in SCALES}
    total = sum(n_c.values())
    if total == 0 or sum(1 for v in n_c.values() if v) < 2:
        return None

    def distance(c: int, k: int) -> int:  # (2 * the ordinal delta) ** 2, in scaled units
        lo, hi = min(c, k), max(c, k)
        return (2 * sum(n_c[g] for g in range(lo, hi + 1)) - n_c[c] - n_c[k]) ** 2

    observed = sum(o[(c, k)] * distance(c, k) for c in SCALES for k in SCALES)
    expected = sum(n_c[c] * n_c[k] * distance(c, k) for c in SCALES for k in SCALES)
    return float(1 - Fraction((total - scale) * observed, expected))


def pair_figures(units: Sequence[int], raters: Sequence[int], values: Sequence[int]
                 ) -> dict[int, dict[str, int]]:
    """Per rater: shared_clips, pair_count, pair_distance over units with 2+ raters
    (rows: one vote per (unit, rater))."""
    by_unit: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for unit, rater, value in zip(units, raters, values, strict=True):
        by_unit[unit].append((rater, value))
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for votes in by_unit.values():
        if len(votes) < 2:
            continue
        for rater, value in votes:
            out[rater]["shared_clips"] += 1
            for other, other_value in votes:
                if other != rater:
                    out[rater]["pair_count"] += 1
                    out[rater]["pair_distance"] += abs(value - other_value)
    return out


def outlier_threshold(distances: Iterable[float]) -> float | None:
    """Distance above which a rater is flagged: median + max(3 scaled MADs, 0.5 star).
    None with fewer than three raters to compare."""
    d = np.asarray(list(distances), dtype=np.float64)
    if len(d) < 3:
        return None
    med = float(np.median(d))
    mad = float(np.median(np.abs(d - med))) * 1.4826
    return med + max(3 * mad, 0.5)


def contradicts(chosen_rating: int | None, rejected_rating: int | None) -> bool | None:
    """A preference contradicts the same rater's ratings when the rejected clip got 2+ stars
    more than the chosen one; None when the rater did not rate both."""
    if chosen_rating is None or rejected_rating is None:
        return None
    return rejected_rating - chosen_rating >= 2


def intransitive_triads(edges: Iterable[tuple[int, int]]) -> int:
    """Number of 3-cycles (A>B, B>C, C>A) among distinct directed (winner, loser) edges."""
    beats: dict[int, set[int]] = defaultdict(set)
    for winner, loser in edges:
        if winner != loser:
            beats[winner].add(loser)
    found = 0
    for a, losers in beats.items():
        for b in losers:
            for c in beats.get(b, ()):
                if a in beats.get(c, ()) and a < b and a < c:  # each cycle once, from its smallest node
                    found += 1
    return found


def new_cycles(edges: set[tuple[int, int]], winner: int, loser: int) -> int:
    """3-cycles that the edge winner > loser closes among ``edges`` (0 if it is not new)."""
    if (winner, loser) in edges or winner == loser:
        return 0
    after_loser = {c for a, c in edges if a == loser}
    return sum(1 for c in after_loser if (c, winner) in edges)


# --- the report ------------------------------------------------------------------------------


@dataclasses.dataclass
class Figures:
    """What the incremental bookkeeping holds: coincidence cells and per-rater figures."""

    cells: dict[tuple[int, int, int], int]
    raters: dict[int, dict[str, int]]
    listening: dict[int, RaterFigures] = dataclasses.field(default_factory=dict)


def direct_figures(session: Session) -> Figures:
    """The figures recomputed from the raw rows (first vote per rater and clip)."""
    rows = session.execute(
        select(Rating.audio_id, Rating.rater_id, Rating.rating)
        .join(AudioSample, AudioSample.id == Rating.audio_id)
        .where(AudioSample.rater_count >= 2, Rating.rater_id.is_not(None)).order_by(Rating.id)
    ).all()
    votes: dict[tuple[int, int], int] = {}
    for unit, rater, value in rows:
        votes.setdefault((unit, rater), value)
    per_unit: dict[int, list[int]] = defaultdict(lambda: [0] * len(SCALES))
    sizes: dict[int, int] = defaultdict(int)
    for (unit, _), value in votes.items():
        per_unit[unit][value - 1] += 1
        sizes[unit] += 1
    cells: dict[tuple[int, int, int], int] = defaultdict(int)
    for unit, counts in per_unit.items():
        m = sizes[unit]
        if m >= 2:
            cells[(m, 0, 0)] += 1
            for (c, k), n in unit_coincidences(counts).items():
                cells[(m, c, k)] += n
    keys = list(votes)
    raters = pair_figures([u for u, _ in keys], [r for _, r in keys], list(votes.values()))
    first = (lambda col: select(Rating.rating)  # noqa: E731 - a tiny query builder
             .where(Rating.rater_id == Preference.rater_id, Rating.audio_id == col)
             .order_by(Rating.id).limit(1).scalar_subquery())
    edges: dict[tuple[int, int], set[tuple[int, int]]] = defaultdict(set)
    for rater, prompt, chosen, rejected, chosen_rating, rejected_rating in session.execute(
        select(Preference.rater_id, Preference.prompt_id, Preference.chosen_id, Preference.rejected_id,
               first(Preference.chosen_id), first(Preference.rejected_id))
        .where(Preference.rater_id.is_not(None), Preference.tie.is_(False))
    ):
        verdict = contradicts(chosen_rating, rejected_rating)
        if verdict is not None:
            raters[rater]["prefs_checked"] += 1
            raters[rater]["contradictions"] += int(verdict)
        edges[(rater, prompt)].add((chosen, rejected))
    for (rater, _), pairs in edges.items():
        if len(pairs) >= 3:
            raters[rater]["triads"] += intransitive_triads(pairs)
    return Figures(cells=dict(cells), raters={r: dict(v) for r, v in raters.items()},
                   listening=direct_listening(session))


def stored_figures(session: Session) -> Figures:
    """The figures as kept incrementally (a few dozen rows)."""
    cells = {(m, c, k): int(n) for m, c, k, n in session.execute(
        select(CoincidenceCount.m, CoincidenceCount.c, CoincidenceCount.k, CoincidenceCount.count))}
    return Figures(cells=cells, raters={}, listening=stored_listening(session))  # the rest lives on the rater rows


def _report(session: Session, figures: Figures, from_rows: bool, min_rating: int) -> schemas.FeedbackQuality:
    cells = {key: n for key, n in figures.cells.items() if n}
    alpha = alpha_from_coincidences(cells)
    raters = list(session.scalars(select(Rater).order_by(Rater.name, Rater.id)))

    def fig(rater: Rater, name: str) -> int:
        return figures.raters.get(rater.id or 0, {}).get(name, 0) if from_rows else getattr(rater, name)

    distance = {r.id: fig(r, "pair_distance") / fig(r, "pair_count") for r in raters if fig(r, "pair_count")}
    threshold = outlier_threshold(distance[r.id] for r in raters if fig(r, "shared_clips") >= MIN_SHARED)
    rows = []
    for r in raters:
        checked, contra = fig(r, "prefs_checked"), fig(r, "contradictions")
        d = distance.get(r.id)
        heard = figures.listening.get(r.id or 0, RaterFigures())
        rows.append(schemas.RaterQuality(
            rater_id=r.id or 0, name=r.name, ratings=r.rating_count,
            mean_rating=round(r.rating_sum / r.rating_count, 4) if r.rating_count else None,
            shared_clips=fig(r, "shared_clips"), mean_distance=None if d is None else round(d, 4),
            outlier=bool(threshold is not None and d is not None and fig(r, "shared_clips") >= MIN_SHARED
                         and d > threshold),
            preferences=r.preference_count, preferences_checked=checked, contradictions=contra,
            contradiction_rate=round(contra / checked, 4) if checked else None, intransitive_triads=fig(r, "triads"),
            judgements=heard.judgements, listened=heard.listened, median_heard=heard.median_heard,
            fast_share=heard.fast_share, unattentive=heard.unattentive,
        ))
    units = {m: n for (m, c, k), n in cells.items() if c == 0 and k == 0}
    return schemas.FeedbackQuality(
        agreement=schemas.Agreement(alpha=None if alpha is None else round(alpha, 6), clips=sum(units.values()),
                                    ratings=sum(m * n for m, n in units.items()),
                                    raters=sum(1 for r in raters if fig(r, "shared_clips"))),
        raters=rows,
        outlier_distance=None if threshold is None else round(threshold, 4),
        contradictions=sum(x.contradictions for x in rows),
        preferences_checked=sum(x.preferences_checked for x in rows),
        intransitive_triads=sum(x.intransitive_triads for x in rows),
        coverage=coverage(session, min_rating),
        unattentive=sum(x.unattentive for x in rows),
    )


def feedback_quality(db: Database, min_rating: int) -> schemas.FeedbackQuality:
    """The report from the incrementally kept figures (cheap at any scale)."""
    with db.session() as session:
        return _report(session, stored_figures(session), False, min_rating)


def compute_quality(session: Session, min_rating: int) -> schemas.FeedbackQuality:
    """The same report recomputed from the raw rows (exactness checks, repair)."""
    return _report(session, direct_figures(session), True, min_rating)
