"""The listening queue: which clip a rater hears next, and the leases that keep racing raters apart.

A clip is offered to a rater who has not rated it yet, fewest ratings first (so every clip
gets ``target`` ratings and agreement can be measured), oldest first among equals. The
walk follows ``ix_audio_sample_rating_count_id`` and probes ``ix_rating_rater_audio`` and
``ix_queue_lease_audio`` per candidate, so the answer costs a few index lookups however
large the table is.

Serving a clip leases it to the rater for ``lease_s`` seconds (one lease per rater: a new
serve replaces the old one; serving the same clip again renews it; rating it ends it). A
clip is taken for everyone else while its ratings plus the live leases of other raters
reach the target, so N raters racing through the queue never push a clip past the target
while another still needs ratings. Serves are serialised: SQLite's ``BEGIN IMMEDIATE``
write transaction on SQLite, a transaction-level advisory lock on PostgreSQL (the choice
reads several rows — the clip's count and every other rater's lease — so no single row
lock would cover it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import delete, exists, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.increments import add_to_rows
from training_dashboard.db.models import Adapter, AudioSample, Prompt, QueueLease, QueueRated, Rating
from training_dashboard.services.counters import adapter_label
from training_dashboard.services.prompts import StreamUrl, default_stream_url, prompt_public
from training_dashboard.services.raters import get_rater

AdapterFilter = int | str | None  # an id, "base", or no constraint

SERVE_LOCK_KEY = 0x74645F71  # PostgreSQL advisory lock taken by every serve ("td_q")
MAX_TRACKED = 100  # queue_rated tracks clips with fewer ratings: the largest TD_RATINGS_PER_CLIP


def _clauses(rater_id: int, target: int, adapter_id: AdapterFilter, prompt_id: int | None) -> list:  # type: ignore[type-arg]
    clauses = [
        AudioSample.rating_count < target,
        ~exists().where(Rating.rater_id == rater_id, Rating.audio_id == AudioSample.id),
    ]
    if adapter_id == "base":
        clauses.append(AudioSample.adapter_id.is_(None))
    elif adapter_id is not None:
        clauses.append(AudioSample.adapter_id == adapter_id)
    if prompt_id is not None:
        clauses.append(AudioSample.prompt_id == prompt_id)
    return clauses


def _others_leases(rater_id: int, now: datetime):  # type: ignore[no-untyped-def]
    """Live leases of other raters on the clip of the enclosing query (a correlated count)."""
    return (select(func.count()).select_from(QueueLease)
            .where(QueueLease.audio_id == AudioSample.id, QueueLease.expires_at > now,
                   QueueLease.rater_id != rater_id)
            .scalar_subquery())


def next_clip(db: Database, rater_id: int, target: int, *, lease_s: float = 120.0, blind: bool = True,
              adapter_id: AdapterFilter = None, prompt_id: int | None = None, exclude: Sequence[int] = (),
              stream_url: StreamUrl = default_stream_url, now: datetime | None = None,
              ) -> schemas.QueueClip | schemas.QueueClipRevealed | None:
    """The next clip for a rater, leased to them for ``lease_s`` seconds; None when nothing is left.

    ``exclude`` lists clips the rater skipped in this sitting (they stay in the queue).

    Raises:
        NotFound: unknown rater.
    """
    skipped = [i for i in exclude if 1 <= i <= schemas.MAX_ID]

    with db.session() as session:
        get_rater(session, rater_id)

    def run(session: Session) -> tuple[int, int] | None:
        # Only the choice and the lease hold the write lock; the clip's details are read after.
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SERVE_LOCK_KEY})
        at = now or datetime.now(UTC)
        session.execute(delete(QueueLease).where(QueueLease.expires_at <= at))
        # One statement, so on PostgreSQL (READ COMMITTED) the count and the leases come from
        # one snapshot: a rating that ends a lease commits both changes at once.
        chosen = session.execute(
            select(AudioSample.id, AudioSample.rating_count).where(
                *_clauses(rater_id, target, adapter_id, prompt_id), AudioSample.id.not_in(skipped),
                AudioSample.rating_count + _others_leases(rater_id, at) < target)
            .order_by(AudioSample.rating_count, AudioSample.id).limit(1)
        ).first()
        if chosen is None:
            session.execute(delete(QueueLease).where(QueueLease.rater_id == rater_id))
            return None
        _lease(session, rater_id, chosen.id, at + timedelta(seconds=lease_s))
        return chosen.id, chosen.rating_count

    served = db.write(run)
    if served is None:
        return None
    audio_id, rating_count = served
    with db.session() as session:
        sample, prompt = session.execute(
            select(AudioSample, Prompt).join(Prompt, Prompt.id == AudioSample.prompt_id)
            .where(AudioSample.id == audio_id)
        ).one()
        fields = dict(audio_id=audio_id, stream_url=stream_url(audio_id), duration=sample.duration,
                      sample_rate=sample.sample_rate, prompt=prompt_public(prompt), rating_count=rating_count,
                      target=target)
        if blind:
            return schemas.QueueClip(**fields)
        adapter = session.get(Adapter, sample.adapter_id) if sample.adapter_id is not None else None
    label = adapter_label(sample.adapter_id, *((adapter.name, adapter.version) if adapter else ()))
    return schemas.QueueClipRevealed(**fields, adapter_id=sample.adapter_id, adapter_label=label)


def _lease(session: Session, rater_id: int, audio_id: int, expires_at: datetime) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(QueueLease).values(rater_id=rater_id, audio_id=audio_id, expires_at=expires_at)
    session.execute(stmt.on_conflict_do_update(index_elements=["rater_id"],
                                               set_={"audio_id": audio_id, "expires_at": expires_at}))


def end_lease(session: Session, rater_id: int, audio_id: int) -> None:
    """End the rater's lease on a clip (they rated it); called in the rating's own transaction."""
    session.connection().execute(_END_LEASE, {"rater_id": rater_id, "audio_id": audio_id})


_END_LEASE = text("DELETE FROM queue_lease WHERE rater_id = :rater_id AND audio_id = :audio_id")


def queue_summary(db: Database, rater_id: int, target: int, *, adapter_id: AdapterFilter = None,
                  prompt_id: int | None = None, now: datetime | None = None) -> schemas.QueueSummary:
    """How many clips are left for a rater, and how many they rated today (UTC) and in all.

    A clip is left when :func:`next_clip` could serve it: under the target, not rated by the
    rater, and not taken by other raters' live leases. Unfiltered, that is the clips under
    the target (a count on ``ix_audio_sample_rating_count_id``) less those the rater rated
    (a few ``queue_rated`` rows) less those other raters' leases take (a row per rater at
    most); with a filter (or a target past the counts kept), the clips are counted one by one,
    probing the rater's ratings only where a named rater has rated the clip.
    """
    at = now or datetime.now(UTC)
    today = datetime.combine(at.date(), time.min, tzinfo=UTC)
    with db.session() as session:
        rater = get_rater(session, rater_id)
        not_rated, *filters = _clauses(rater_id, target, adapter_id, prompt_id)[1:]
        open_clips = [AudioSample.rating_count < target, or_(AudioSample.rater_count == 0, not_rated), *filters]
        if filters or target > MAX_TRACKED:
            left = session.scalar(select(func.count()).select_from(AudioSample).where(*open_clips)) or 0
        else:
            under = select(func.count()).select_from(AudioSample).where(AudioSample.rating_count < target)
            rated = select(func.coalesce(func.sum(QueueRated.clips), 0)).where(
                QueueRated.rater_id == rater_id, QueueRated.rating_count < target)
            left = session.scalar(select(under.scalar_subquery() - rated.scalar_subquery())) or 0
        leases = (select(QueueLease.audio_id, func.count().label("n")).where(
            QueueLease.expires_at > at, QueueLease.rater_id != rater_id).group_by(QueueLease.audio_id).subquery())
        taken = session.scalar(
            select(func.count()).select_from(AudioSample).join(leases, leases.c.audio_id == AudioSample.id)
            .where(*open_clips, AudioSample.rating_count + leases.c.n >= target)
        ) or 0
        rated_today = _count(session, Rating.rater_id == rater_id, Rating.created_at >= today)
        return schemas.QueueSummary(rater_id=rater_id, target=target, remaining=left - taken,
                                    rated_today=rated_today, rated_total=rater.rating_count)


def note_clip_rated(session: Session, rater_id: int | None, before: set[int], new_count: int) -> None:
    """Move a newly rated clip up one count in the ``queue_rated`` rows of the raters who rated
    it ``before``, and add it for ``rater_id`` if it is their first rating of it.

    Call in the rating's transaction, once the clip's ``rating_count`` is bumped to
    ``new_count`` (the caller holds the clip's row, so ``before`` is fixed). One multi-row
    upsert, its rows in sorted order so concurrent ratings on PostgreSQL cannot deadlock.
    """
    old = new_count - 1
    if old >= MAX_TRACKED:
        return
    deltas: dict[tuple[int, int], int] = {}
    for other in before:
        deltas[(other, old)] = -1
        if new_count < MAX_TRACKED:
            deltas[(other, new_count)] = 1
    if rater_id is not None and rater_id not in before and new_count < MAX_TRACKED:
        deltas[(rater_id, new_count)] = 1
    add_to_rows(session.connection(), "queue_rated", ("rater_id", "rating_count"), "clips",
                [(rater, count, delta) for (rater, count), delta in sorted(deltas.items())])


def rebuild_queue_rated(session: Session) -> None:
    """Recompute ``queue_rated`` from the ratings (after bulk changes to ratings' raters)."""
    session.execute(delete(QueueRated))
    counts = (select(Rating.rater_id, AudioSample.rating_count, func.count(func.distinct(Rating.audio_id)))
              .join(AudioSample, AudioSample.id == Rating.audio_id)
              .where(Rating.rater_id.is_not(None), AudioSample.rating_count < MAX_TRACKED)
              .group_by(Rating.rater_id, AudioSample.rating_count))
    session.execute(QueueRated.__table__.insert().from_select(["rater_id", "rating_count", "clips"], counts))


def _count(session: Session, *clauses) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Rating).where(*clauses)) or 0


def adapter_filter(value: str | None) -> AdapterFilter:
    """An ``adapter_id`` query parameter: an id, "base", or nothing.

    Raises:
        BadRequest: anything else.
    """
    from training_dashboard.services.errors import BadRequest

    if value is None or value == "base":
        return value
    adapter_id = schemas.parse_int(value)
    if adapter_id is None:
        raise BadRequest("adapter_id must be a positive integer or 'base'")
    return adapter_id
