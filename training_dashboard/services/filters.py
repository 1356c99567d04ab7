"""The ONE query behind a dataset: preview counts it, the snapshot stores it, export reads it.

``supervised_query`` selects rating ids; ``preference_query`` selects preference ids.
Every field of :class:`~training_dashboard.schemas.DatasetFilter` becomes a WHERE clause.

With ``aggregate="clip"`` a supervised dataset holds one item per clip: ``clip_query``
selects the clips whose matching ratings' mean lies within min/max rating, and the
snapshot stores those ratings (``supervised_query``), so a frozen dataset's means never
change; the preview counts clips, export writes one row per clip.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Select, and_, exists, func, select

from training_dashboard.db.models import AudioSample, Preference, Rating, RatingTag
from training_dashboard.schemas import DatasetFilter
from training_dashboard.services.errors import BadRequest


def day_start(d) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.combine(d, time.min, tzinfo=UTC)


def rating_clauses(f: DatasetFilter) -> list:  # type: ignore[type-arg]
    """WHERE clauses on ``rating`` for a filter (dates inclusive, whole UTC days)."""
    clauses = []
    if f.min_rating is not None and f.aggregate == "rating":
        clauses.append(Rating.rating >= f.min_rating)
    if f.max_rating is not None and f.aggregate == "rating":
        clauses.append(Rating.rating <= f.max_rating)
    if f.rater_ids:
        clauses.append(Rating.rater_id.in_(f.rater_ids))
    if f.min_heard_fraction is not None:  # NULL (no listening data) never passes
        clauses.append(Rating.heard_fraction >= f.min_heard_fraction)
    if f.min_raters is not None:
        clauses.append(Rating.audio_id.in_(select(AudioSample.id).where(AudioSample.rater_count >= f.min_raters)))
    if f.adapter_id == "base":
        clauses.append(Rating.adapter_id.is_(None))
    elif f.adapter_id is not None:
        clauses.append(Rating.adapter_id == f.adapter_id)
    if f.start_date is not None:
        clauses.append(Rating.created_at >= day_start(f.start_date))
    if f.end_date is not None:
        clauses.append(Rating.created_at < day_start(f.end_date) + timedelta(days=1))
    # IN (SELECT ...) lets the database drive from the (tag, rating_id) primary key instead of
    # probing rating_tag once per rating row.
    for tag in f.required_tags:
        clauses.append(Rating.id.in_(select(RatingTag.rating_id).where(RatingTag.tag == tag)))
    if f.excluded_tags:
        # An excluded tag never drives the query, so probe the (tag, rating_id) key once per
        # candidate rating: NOT IN (SELECT ...) made SQLite copy every rating id carrying the
        # tag into a temporary index first (45k at 1M ratings), and PostgreSQL cannot turn
        # NOT IN into an anti-join (NULL semantics); NOT EXISTS is one on both.
        clauses.append(~exists().where(RatingTag.rating_id == Rating.id, RatingTag.tag.in_(f.excluded_tags)))
    return clauses


def supervised_query(f: DatasetFilter) -> Select:  # type: ignore[type-arg]
    """Rating ids matching the filter (with ``aggregate="clip"``: the ratings of the kept clips)."""
    query = select(Rating.id).where(and_(True, *rating_clauses(f)))
    if f.aggregate == "clip":
        query = query.where(Rating.audio_id.in_(clip_query(f)))
    return query


def clip_query(f: DatasetFilter) -> Select:  # type: ignore[type-arg]
    """Clip ids whose matching ratings' mean lies within min/max rating (exact integer test:
    sum >= min * count, not a floating-point average)."""
    having = []
    if f.min_rating is not None:
        having.append(func.sum(Rating.rating) >= f.min_rating * func.count())
    if f.max_rating is not None:
        having.append(func.sum(Rating.rating) <= f.max_rating * func.count())
    return (select(Rating.audio_id).where(and_(True, *rating_clauses(f))).group_by(Rating.audio_id)
            .having(and_(True, *having)))


def preference_query(f: DatasetFilter) -> Select:  # type: ignore[type-arg]
    """Non-tie preference ids matching the filter.

    ``adapter_id`` keeps pairs whose two clips both came from that adapter (or both from
    the base model); the dates bound when the preference was given; ``min_heard_fraction``
    keeps pairs whose less-heard clip was heard at least that share. Rating and tag
    filters describe single clips and are refused for preference datasets.
    """
    unsupported = [
        name for name in ("min_rating", "max_rating", "min_raters") if getattr(f, name) is not None
    ] + [name for name in ("required_tags", "excluded_tags") if getattr(f, name)]
    if f.aggregate != "rating":
        unsupported.append("aggregate")
    if unsupported:
        raise BadRequest(
            f"{', '.join(unsupported)} apply to supervised datasets only; "
            "a preference dataset filters by adapter, rater, date and heard fraction"
        )
    clauses = [Preference.tie.is_(False)]
    if f.adapter_id == "base":
        clauses += [Preference.chosen_adapter_id.is_(None), Preference.rejected_adapter_id.is_(None)]
    elif f.adapter_id is not None:
        clauses += [Preference.chosen_adapter_id == f.adapter_id, Preference.rejected_adapter_id == f.adapter_id]
    if f.start_date is not None:
        clauses.append(Preference.created_at >= day_start(f.start_date))
    if f.end_date is not None:
        clauses.append(Preference.created_at < day_start(f.end_date) + timedelta(days=1))
    if f.rater_ids:
        clauses.append(Preference.rater_id.in_(f.rater_ids))
    if f.min_heard_fraction is not None:
        clauses.append(Preference.heard_fraction >= f.min_heard_fraction)
    return select(Preference.id).where(and_(*clauses))


def query_for(kind: str, f: DatasetFilter) -> Select:  # type: ignore[type-arg]
    """What the snapshot stores: rating ids or preference ids."""
    return supervised_query(f) if kind == "supervised" else preference_query(f)


def items_query(kind: str, f: DatasetFilter) -> Select:  # type: ignore[type-arg]
    """What the preview counts and export writes one row for: clips when aggregated, else members."""
    return clip_query(f) if kind == "supervised" and f.aggregate == "clip" else query_for(kind, f)


def count_of(query: Select) -> Select:  # type: ignore[type-arg]
    return select(func.count()).select_from(query.subquery())
