"""The listening queue: which clip a rater hears next.

A clip is offered to a rater who has not rated it yet, fewest ratings first (so every clip
gets ``target`` ratings and agreement can be measured), oldest first among equals. The
walk follows ``ix_audio_sample_rating_count_id`` and probes ``ix_rating_rater_audio`` per
candidate, so the answer costs a few index lookups however large the table is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time

from sqlalchemy import exists, func, select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, Prompt, Rating
from training_dashboard.services.counters import adapter_label
from training_dashboard.services.prompts import StreamUrl, default_stream_url, prompt_public
from training_dashboard.services.raters import get_rater

AdapterFilter = int | str | None  # an id, "base", or no constraint


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


def next_clip(db: Database, rater_id: int, target: int, *, blind: bool = True, adapter_id: AdapterFilter = None,
              prompt_id: int | None = None, exclude: Sequence[int] = (), stream_url: StreamUrl = default_stream_url
              ) -> schemas.QueueClip | schemas.QueueClipRevealed | None:
    """The next clip for a rater, or None when nothing is left for them.

    ``exclude`` lists clips the rater skipped in this sitting (they stay in the queue).

    Raises:
        NotFound: unknown rater.
    """
    with db.session() as session:
        get_rater(session, rater_id)
        skipped = [i for i in exclude if 1 <= i <= schemas.MAX_ID]
        # The count is reported as the choice saw it: on PostgreSQL (READ COMMITTED) a second
        # statement may already see other raters' newer ratings of the clip.
        chosen = session.execute(
            select(AudioSample.id, AudioSample.rating_count).where(
                *_clauses(rater_id, target, adapter_id, prompt_id), AudioSample.id.not_in(skipped))
            .order_by(AudioSample.rating_count, AudioSample.id).limit(1)
        ).first()
        if chosen is None:
            return None
        audio_id, rating_count = chosen
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


def queue_summary(db: Database, rater_id: int, target: int, *, adapter_id: AdapterFilter = None,
                  prompt_id: int | None = None, now: datetime | None = None) -> schemas.QueueSummary:
    """How many clips are left for a rater, and how many they rated today (UTC) and in all."""
    today = datetime.combine((now or datetime.now(UTC)).date(), time.min, tzinfo=UTC)
    with db.session() as session:
        rater = get_rater(session, rater_id)
        remaining = session.scalar(
            select(func.count()).select_from(AudioSample).where(*_clauses(rater_id, target, adapter_id, prompt_id))
        ) or 0
        rated_today = _count(session, Rating.rater_id == rater_id, Rating.created_at >= today)
        return schemas.QueueSummary(rater_id=rater_id, target=target, remaining=remaining, rated_today=rated_today,
                                    rated_total=rater.rating_count)


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
