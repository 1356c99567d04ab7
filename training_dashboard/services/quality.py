"""Data quality of the feedback: agreement, raters, preference consistency, coverage.

The statistics are pure functions over plain rows (easy to test against published values);
:func:`feedback_quality` loads the rows and caches its answer under a key that every
rating, preference and rater write changes (the newest ids plus the running totals bumped
in the feedback's own transaction), so a repeated request costs one small query and a
changed database is never answered from a stale cache.

Choices: Krippendorff's alpha comes from the ``krippendorff`` package (ordinal level, over
clips with at least two named raters, each rater's latest rating of a clip); a rater's
agreement is the mean absolute distance between their rating and the mean of the others'
ratings of the same clip; outliers are flagged with a robust rule (median + 3 scaled MADs,
at least half a star).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

import krippendorff
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import (
    AudioSample,
    Counter,
    CoverageCount,
    Preference,
    Prompt,
    Rater,
    Rating,
    RatingTag,
)
from training_dashboard.services.counters import adapter_key, adapter_labels

MIN_SHARED = 5  # a rater's distance counts toward outlier flags from this many shared clips
THINNEST = 5
SCALES = (1, 2, 3, 4, 5)


def bucket(value: str | None) -> str | None:
    """The coverage bucket of a free-text style or mood (trimmed, lower-cased)."""
    value = (value or "").strip().lower()[:200]
    return value or None


# --- pure statistics ---------------------------------------------------------------------


def value_counts(units: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-unit counts of each star (rows: units in ascending id order, columns: 1..5)."""
    _, index = np.unique(units, return_inverse=True)
    counts = np.zeros((int(index.max()) + 1 if len(index) else 0, len(SCALES)), dtype=np.int64)
    np.add.at(counts, (index, values.astype(np.int64) - 1), 1)
    return counts


def ordinal_alpha(counts: np.ndarray) -> float | None:
    """Krippendorff's alpha (ordinal) from unit x star counts; None when it is undefined
    (fewer than two pairable values, or every pairable value the same)."""
    pairable = counts[counts.sum(axis=1) >= 2]
    if len(pairable) == 0 or np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None
    return float(krippendorff.alpha(value_counts=pairable, value_domain=list(SCALES),
                                    level_of_measurement="ordinal"))


def distances_to_others(units: np.ndarray, raters: np.ndarray, values: np.ndarray
                        ) -> dict[int, tuple[int, float]]:
    """Per rater: (clips shared with another rater, mean |own - mean of the others|).

    Rows are one rating per (unit, rater); units with a single rater are ignored.
    """
    if len(units) == 0:
        return {}
    _, index = np.unique(units, return_inverse=True)
    sums = np.bincount(index, weights=values.astype(np.float64))
    sizes = np.bincount(index)
    m = sizes[index]
    keep = m >= 2
    others = (sums[index][keep] - values[keep]) / (m[keep] - 1)
    dist = np.abs(values[keep] - others)
    out: dict[int, tuple[int, float]] = {}
    kept_raters = raters[keep]
    for rater in np.unique(kept_raters):
        mine = dist[kept_raters == rater]
        out[int(rater)] = (len(mine), float(mine.mean()))
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
    """Number of 3-cycles (A>B, B>C, C>A) among directed (winner, loser) edges."""
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


# --- incremental coverage ------------------------------------------------------------------


def coverage_deltas(style: str | None, mood: str | None, adapter_id: int | None, tags: Iterable[str],
                    rating: int) -> list[tuple[str, str, int]]:
    keys = [("adapter", adapter_key(adapter_id), rating)]
    keys += [(kind, value, rating) for kind, value in (("style", bucket(style)), ("mood", bucket(mood))) if value]
    keys += [("tag", tag, rating) for tag in sorted(set(tags))]
    return sorted(keys)


def bump_coverage(session: Session, keys: list[tuple[str, str, int]]) -> None:
    """Add one to each (kind, value, star) bucket, in sorted order (no deadlocks on PostgreSQL)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for kind, value, rating in keys:
        stmt = insert(CoverageCount).values(kind=kind, value=value, rating=rating, count=1)
        session.execute(stmt.on_conflict_do_update(index_elements=["kind", "value", "rating"],
                                                   set_={"count": CoverageCount.count + 1}))


def rebuild_coverage(session: Session) -> None:
    """Recompute ``coverage_count`` from the ratings (repair, bench)."""
    session.execute(CoverageCount.__table__.delete())
    counts: dict[tuple[str, str, int], int] = defaultdict(int)
    for style, mood, rating, n in session.execute(
        select(Prompt.style, Prompt.mood, Rating.rating, func.count()).join(Prompt, Prompt.id == Rating.prompt_id)
        .group_by(Prompt.style, Prompt.mood, Rating.rating)
    ):
        for kind, value in (("style", bucket(style)), ("mood", bucket(mood))):
            if value:
                counts[(kind, value, rating)] += n
    for adapter_id, rating, n in session.execute(
        select(Rating.adapter_id, Rating.rating, func.count()).group_by(Rating.adapter_id, Rating.rating)
    ):
        counts[("adapter", adapter_key(adapter_id), rating)] += n
    for tag, rating, n in session.execute(
        select(RatingTag.tag, Rating.rating, func.count()).join(Rating, Rating.id == RatingTag.rating_id)
        .group_by(RatingTag.tag, Rating.rating)
    ):
        counts[("tag", tag, rating)] += n
    if counts:
        session.execute(CoverageCount.__table__.insert(),
                        [{"kind": k, "value": v, "rating": r, "count": n} for (k, v, r), n in counts.items()])


# --- the report ------------------------------------------------------------------------------

_KEY_COUNTERS = (*(f"rating.{r}" for r in SCALES), "preferences.pairs", "preferences.ties")
_cache: dict[tuple[str, int], tuple[tuple[int, ...], schemas.FeedbackQuality]] = {}
_cache_lock = threading.Lock()


def cache_key(session: Session) -> tuple[int, ...]:
    """Changes with every rating, preference and rater write.

    Feedback is append-only, so (newest id, total) identifies the rows; the totals come from
    the running counters bumped in each feedback's own transaction, so a lower id committed
    late (PostgreSQL sequences) still changes the key.
    """
    counters = dict(session.execute(select(Counter.name, Counter.value).where(Counter.name.in_(_KEY_COUNTERS))).all())
    return (session.scalar(select(func.max(Rating.id))) or 0, session.scalar(select(func.max(Preference.id))) or 0,
            session.scalar(select(func.max(Rater.id))) or 0, *(int(counters.get(n, 0)) for n in _KEY_COUNTERS))


def feedback_quality(db: Database, min_rating: int) -> schemas.FeedbackQuality:
    """Agreement, per-rater figures, preference consistency and coverage (cached, exact)."""
    with db.session() as session:
        if not db.is_sqlite:  # one snapshot for the key and every statement below
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        key = cache_key(session)
        with _cache_lock:
            hit = _cache.get((db.url, min_rating))
        if hit is not None and hit[0] == key:
            return hit[1]
        report = compute_quality(session, min_rating)
    with _cache_lock:
        _cache[(db.url, min_rating)] = (key, report)
    return report


def _latest_ratings(session: Session) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit, rater, rating) of each named rater's latest rating of every clip with 2+ raters."""
    rows = session.execute(
        select(Rating.audio_id, Rating.rater_id, Rating.rating, Rating.id)
        .join(AudioSample, AudioSample.id == Rating.audio_id)
        .where(AudioSample.rater_count >= 2, Rating.rater_id.is_not(None))
    ).all()
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    arr = np.asarray(rows, dtype=np.int64)
    order = np.lexsort((arr[:, 3], arr[:, 1], arr[:, 0]))
    arr = arr[order]
    last = np.ones(len(arr), dtype=bool)
    last[:-1] = (arr[1:, 0] != arr[:-1, 0]) | (arr[1:, 1] != arr[:-1, 1])
    arr = arr[last]
    return arr[:, 0], arr[:, 1], arr[:, 2]


def _preference_checks(session: Session) -> tuple[dict[int, list[int]], dict[int, int]]:
    """Per rater: [preferences, checked, contradictions]; and intransitive triads per rater."""
    latest = (lambda audio_col: select(Rating.rating)  # noqa: E731 - a tiny query builder
              .where(Rating.rater_id == Preference.rater_id, Rating.audio_id == audio_col)
              .order_by(Rating.id.desc()).limit(1).scalar_subquery())
    rows = session.execute(
        select(Preference.rater_id, Preference.prompt_id, Preference.chosen_id, Preference.rejected_id,
               latest(Preference.chosen_id), latest(Preference.rejected_id))
        .where(Preference.rater_id.is_not(None), Preference.tie.is_(False))
    ).all()
    figures: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    edges: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for rater_id, prompt_id, chosen, rejected, chosen_rating, rejected_rating in rows:
        fig = figures[rater_id]
        fig[0] += 1
        verdict = contradicts(chosen_rating, rejected_rating)
        if verdict is not None:
            fig[1] += 1
            fig[2] += int(verdict)
        edges[(rater_id, prompt_id)].append((chosen, rejected))
    triads: dict[int, int] = defaultdict(int)
    for (rater_id, _), pairs in edges.items():
        if len(pairs) >= 3:
            triads[rater_id] += intransitive_triads(pairs)
    return figures, triads


def compute_quality(session: Session, min_rating: int) -> schemas.FeedbackQuality:
    """The report, computed directly from the tables (what the cache holds)."""
    units, raters, values = _latest_ratings(session)
    counts = value_counts(units, values) if len(units) else np.zeros((0, len(SCALES)), dtype=np.int64)
    alpha = ordinal_alpha(counts)
    distances = distances_to_others(units, raters, values)
    threshold = outlier_threshold(d for n, d in distances.values() if n >= MIN_SHARED)
    figures, triads = _preference_checks(session)
    rater_rows = []
    for rater in session.scalars(select(Rater).order_by(Rater.name, Rater.id)):
        rid = rater.id or 0
        shared, distance = distances.get(rid, (0, None))
        prefs, checked, contra = figures.get(rid, [0, 0, 0])
        rater_rows.append(schemas.RaterQuality(
            rater_id=rid, name=rater.name, ratings=rater.rating_count,
            mean_rating=round(rater.rating_sum / rater.rating_count, 4) if rater.rating_count else None,
            shared_clips=shared, mean_distance=None if distance is None else round(distance, 4),
            outlier=bool(threshold is not None and distance is not None and shared >= MIN_SHARED
                         and distance > threshold),
            preferences=prefs, preferences_checked=checked, contradictions=contra,
            contradiction_rate=round(contra / checked, 4) if checked else None,
            intransitive_triads=triads.get(rid, 0),
        ))
    return schemas.FeedbackQuality(
        agreement=schemas.Agreement(alpha=None if alpha is None else round(alpha, 6), clips=int(len(counts)),
                                    ratings=int(len(units)), raters=int(len(np.unique(raters)))),
        raters=rater_rows,
        outlier_distance=None if threshold is None else round(threshold, 4),
        contradictions=sum(f[2] for f in figures.values()),
        preferences_checked=sum(f[1] for f in figures.values()),
        intransitive_triads=sum(triads.values()),
        coverage=coverage(session, min_rating),
    )


def coverage(session: Session, min_rating: int) -> schemas.Coverage:
    """Eligible (>= min_rating) ratings per style, mood, tag and adapter; the thinnest buckets."""
    eligible: dict[tuple[str, str], int] = defaultdict(int)
    total: dict[tuple[str, str], int] = defaultdict(int)
    for kind, value, rating, n in session.execute(
        select(CoverageCount.kind, CoverageCount.value, CoverageCount.rating, CoverageCount.count)
    ):
        total[(kind, value)] += n
        if rating >= min_rating:
            eligible[(kind, value)] += n
    labels = adapter_labels(session, [v for k, v in total if k == "adapter"])
    by: dict[str, dict[str, int]] = {"style": {}, "mood": {}, "tag": {}, "adapter": {}}
    buckets = []
    for (kind, value), n in sorted(total.items()):
        shown = labels.get(value, value) if kind == "adapter" else value
        by[kind][shown] = eligible[(kind, value)]
        buckets.append(schemas.CoverageBucket(kind=kind, value=shown, eligible=eligible[(kind, value)],  # type: ignore[arg-type]
                                              ratings=n))
    thinnest = sorted(buckets, key=lambda b: (b.eligible, b.kind, b.value))[:THINNEST]
    notes = [f"only {b.eligible} eligible '{b.value}' sample{'' if b.eligible == 1 else 's'} ({b.kind})"
             for b in thinnest]
    return schemas.Coverage(min_rating=min_rating, by_style=by["style"], by_mood=by["mood"], by_tag=by["tag"],
                            by_adapter=by["adapter"], thinnest=thinnest, notes=notes)
