"""Every clip reachable: generation jobs newest first, and clips listed by prompt, adapter
and who has (not) rated them."""

from __future__ import annotations

from sqlalchemy import exists, func, select

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, GenerationJob, Prompt, Rating
from training_dashboard.services.counters import adapter_label
from training_dashboard.services.prompts import StreamUrl, audio_brief, default_stream_url
from training_dashboard.services.queue import AdapterFilter
from training_dashboard.services.raters import get_rater


def list_jobs(db: Database, status: str | None, page: int, limit: int,
              stream_url: StreamUrl = default_stream_url) -> schemas.Page[schemas.JobSummary]:
    """Jobs newest first, each with its prompt, adapter and clip ids."""
    where = [GenerationJob.status == status] if status else []
    J, P = GenerationJob, Prompt  # noqa: N806 - short aliases keep the column list readable
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(J).where(*where)) or 0
        # Plain columns, not ORM entities: a page is built in a few milliseconds.
        rows = session.execute(
            select(J.id, J.status, J.adapter_id, J.num_samples, J.params, J.error, J.created_at, J.finished_at,
                   P.id, P.text, P.style, P.tempo, P.instruments, P.mood, P.created_at, Adapter.name, Adapter.version)
            .join(P, P.id == J.prompt_id).outerjoin(Adapter, Adapter.id == J.adapter_id)
            .where(*where).order_by(J.id.desc()).offset((page - 1) * limit).limit(limit)
        ).all()
        clips: dict[int, list[tuple[int, int]]] = {}
        if rows:
            for job_id, audio_id, seed in session.execute(
                select(AudioSample.job_id, AudioSample.id, AudioSample.seed)
                .where(AudioSample.job_id.in_([r[0] for r in rows])).order_by(AudioSample.id)
            ):
                clips.setdefault(job_id, []).append((audio_id, seed))
    items = []
    for (job_id, job_status, adapter_id, num_samples, params, error, created, finished,
         prompt_id, text, style, tempo, instruments, mood, prompt_created, name, version) in rows:
        mine = clips.get(job_id, [])
        prompt = schemas.PromptPublic(id=prompt_id, text=text, created_at=prompt_created,
                                      attributes=schemas.PromptAttributes(style=style, tempo=tempo, mood=mood,
                                                                          instruments=list(instruments or [])))
        items.append(schemas.JobSummary(
            id=job_id, status=job_status, prompt=prompt, adapter_id=adapter_id,
            adapter_label=adapter_label(adapter_id, name, version), num_samples=num_samples, params=params,
            audio_ids=[a for a, _ in mine], seeds=[seed for _, seed in mine],
            stream_urls=[stream_url(a) for a, _ in mine], error=error, created_at=created, finished_at=finished,
        ))
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
