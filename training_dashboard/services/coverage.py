"""Coverage: eligible ratings per style, mood, tag and adapter, kept incrementally.

``coverage_count`` holds ratings per (bucket, star); each rating bumps its buckets in its own
transaction, so the report reads a few hundred rows instead of joining a million ratings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db.increments import add_to_rows
from training_dashboard.db.models import CoverageCount, Prompt, Rating, RatingTag
from training_dashboard.services.counters import adapter_key, adapter_labels

THINNEST = 5


def bucket(value: str | None) -> str | None:
    """The coverage bucket of a free-text style or mood (trimmed, lower-cased)."""
    value = (value or "").strip().lower()[:200]
    return value or None


def coverage_deltas(style: str | None, mood: str | None, adapter_id: int | None, tags: Iterable[str],
                    rating: int) -> list[tuple[str, str, int]]:
    keys = [("adapter", adapter_key(adapter_id), rating)]
    keys += [(kind, value, rating) for kind, value in (("style", bucket(style)), ("mood", bucket(mood))) if value]
    keys += [("tag", tag, rating) for tag in sorted(set(tags))]
    return sorted(keys)


def bump_coverage(session: Session, keys: list[tuple[str, str, int]]) -> None:
    """Add one to each (kind, value, star) bucket: one statement, in sorted order (no deadlocks on PostgreSQL)."""
    add_to_rows(session.connection(), "coverage_count", ("kind", "value", "rating"), "count",
                [(*key, 1) for key in sorted(keys)])


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
