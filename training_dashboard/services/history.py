"""Every clip reachable: generation jobs newest first, and clips listed by prompt, adapter
and who has (not) rated them."""

from __future__ import annotations

from sqlalchemy import exists, func, select

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, GenerationJob, Prompt, Rating
from training_dashboard.services.counters import adapter_label
from training_dashboard.services.prompts import StreamUrl, audio_brief, default_stream_url, prompt_public
from training_dashboard.services.queue import AdapterFilter
from training_dashboard.services.raters import get_rater


def list_jobs(db: Database, status: str | None, page: int, limit: int,
              stream_url: StreamUrl = default_stream_url) -> schemas.Page[schemas.JobSummary]:
    """Jobs newest first, each with its prompt, adapter and clip ids."""
    where = [GenerationJob.status == status] if status else []
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(GenerationJob).where(*where)) or 0
        rows = session.execute(
            select(GenerationJob, Prompt, Adapter.name, Adapter.version)
            .join(Prompt, Prompt.id == GenerationJob.prompt_id)
            .outerjoin(Adapter, Adapter.id == GenerationJob.adapter_id)
            .where(*where).order_by(GenerationJob.id.desc()).offset((page - 1) * limit).limit(limit)
        ).all()
        clips: dict[int, list[tuple[int, int]]] = {}
        job_ids = [job.id for job, *_ in rows]
        if job_ids:
            for job_id, audio_id, seed in session.execute(
                select(AudioSample.job_id, AudioSample.id, AudioSample.seed).where(AudioSample.job_id.in_(job_ids))
                .order_by(AudioSample.id)
            ):
                clips.setdefault(job_id, []).append((audio_id, seed))
    items = [
        schemas.JobSummary(
            id=job.id, status=job.status, prompt=prompt_public(prompt), adapter_id=job.adapter_id,
            adapter_label=adapter_label(job.adapter_id, name, version), num_samples=job.num_samples,
            params=job.params, audio_ids=[a for a, _ in clips.get(job.id, [])],
            seeds=[seed for _, seed in clips.get(job.id, [])],
            stream_urls=[stream_url(a) for a, _ in clips.get(job.id, [])], error=job.error, created_at=job.created_at,
            finished_at=job.finished_at,
        )
        for job, prompt, name, version in rows
    ]
    return schemas.Page[schemas.JobSummary](items=items, total=total)


def list_audio(db: Database, *, prompt_id: int | None, adapter_id: AdapterFilter, rated_by: int | None,
               not_rated_by: int | None, page: int, limit: int, stream_url: StreamUrl = default_stream_url
               ) -> schemas.Page[schemas.AudioListItem]:
    """Clips newest first, filtered by prompt, adapter, and who has or has not rated them.

    Raises:
        NotFound: an unknown rater in ``rated_by`` / ``not_rated_by``.
    """
    where = []
    if prompt_id is not None:
        where.append(AudioSample.prompt_id == prompt_id)
    if adapter_id == "base":
        where.append(AudioSample.adapter_id.is_(None))
    elif adapter_id is not None:
        where.append(AudioSample.adapter_id == adapter_id)
    with db.session() as session:
        base = list(where)
        for rater_id, rated in ((rated_by, True), (not_rated_by, False)):
            if rater_id is not None:
                get_rater(session, rater_id)
                probe = exists().where(Rating.rater_id == rater_id, Rating.audio_id == AudioSample.id)
                where.append(probe if rated else ~probe)
        if (rated_by is None) != (not_rated_by is None):
            # Count from the rater's side of ix_rating_rater_audio (their clips) rather than
            # probing every clip: not rated = all matching clips - those the rater rated.
            rater_id = rated_by if rated_by is not None else not_rated_by
            mine = (select(func.count(func.distinct(Rating.audio_id))).where(Rating.rater_id == rater_id)
                    .where(Rating.audio_id.in_(select(AudioSample.id).where(*base))) if base else
                    select(func.count(func.distinct(Rating.audio_id))).where(Rating.rater_id == rater_id))
            rated_total = session.scalar(mine) or 0
            total = rated_total if rated_by is not None else (
                (session.scalar(select(func.count()).select_from(AudioSample).where(*base)) or 0) - rated_total)
        else:
            total = session.scalar(select(func.count()).select_from(AudioSample).where(*where)) or 0
        rows = session.execute(
            select(AudioSample, Adapter).outerjoin(Adapter, Adapter.id == AudioSample.adapter_id)
            .where(*where).order_by(AudioSample.id.desc()).offset((page - 1) * limit).limit(limit)
        ).all()
        items = [schemas.AudioListItem(**audio_brief(s, a, stream_url).model_dump(), prompt_id=s.prompt_id,
                                       rating_count=s.rating_count) for s, a in rows]
    return schemas.Page[schemas.AudioListItem](items=items, total=total)
