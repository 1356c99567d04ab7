"""Every clip reachable: generation jobs newest first, and clips listed by prompt, adapter
and who has (not) rated them.

Both pages are read the cheap way (issue 21): statements built once per filter shape with
bound parameters (SQLAlchemy then reuses their cache key and compiled SQL instead of
rebuilding them per request: ~0.7 ms a statement), plain columns through Core instead of ORM
entities, and one pydantic validation per page instead of two or three model constructions
per row. The SQL itself takes well under a millisecond.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.engine import Connection

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, GenerationJob, Prompt, PromptFavourite, Rater, Rating
from training_dashboard.services.counters import adapter_label
from training_dashboard.services.errors import NotFound
from training_dashboard.services.prompts import StreamUrl, default_stream_url
from training_dashboard.services.queue import AdapterFilter

J, P, S = GenerationJob, Prompt, AudioSample

_JOB_CLIPS = (select(S.job_id, S.id, S.seed).where(S.job_id.in_(bindparam("jobs", expanding=True)))
              .order_by(S.id))
_STARRED = select(PromptFavourite.prompt_id).where(PromptFavourite.user_id == bindparam("user"),
                                                  PromptFavourite.prompt_id.in_(bindparam("prompts", expanding=True)))
_RATER_CLIPS = select(Rater.clip_count).where(Rater.id == bindparam("rater"))


@cache
def _job_statements(by_status: bool) -> tuple[Select, Select]:  # type: ignore[type-arg]
    """(count, page) of the history, with or without a status filter."""
    where = [J.status == bindparam("status")] if by_status else []
    count = select(func.count()).select_from(J).where(*where)
    page = (select(J.id, J.status, J.adapter_id, J.num_samples, J.params, J.error, J.created_at, J.finished_at,
                   P.id, P.text, P.style, P.tempo, P.instruments, P.mood, P.created_at, Adapter.name, Adapter.version)
            .join(P, P.id == J.prompt_id).outerjoin(Adapter, Adapter.id == J.adapter_id)
            .where(*where).order_by(J.id.desc()).offset(bindparam("offset")).limit(bindparam("limit")))
    return count, page


def list_jobs(db: Database, status: str | None, page: int, limit: int,
              stream_url: StreamUrl = default_stream_url, user_id: int | None = None
              ) -> schemas.Page[schemas.JobSummary]:
    """Jobs newest first, each with its prompt, adapter and clip ids (and whether ``user_id`` starred the prompt)."""
    count, page_query = _job_statements(status is not None)
    params = {"status": status, "offset": (page - 1) * limit, "limit": limit}
    with db.session() as session:
        conn = session.connection()
        total = conn.scalar(count, params) or 0
        rows = conn.execute(page_query, params).all()
        clips: dict[int, list[tuple[int, int]]] = {}
        if rows:
            for job_id, audio_id, seed in conn.execute(_JOB_CLIPS, {"jobs": [r[0] for r in rows]}):
                clips.setdefault(job_id, []).append((audio_id, seed))
        starred = set() if user_id is None or not rows else set(conn.scalars(
            _STARRED, {"user": user_id, "prompts": sorted({r[8] for r in rows})}))
    items = []
    for (job_id, job_status, adapter_id, num_samples, params_, error, created, finished,
         prompt_id, text, style, tempo, instruments, mood, prompt_created, name, version) in rows:
        mine = clips.get(job_id, [])
        items.append({
            "id": job_id, "status": job_status, "adapter_id": adapter_id, "num_samples": num_samples,
            "prompt": {"id": prompt_id, "text": text, "created_at": prompt_created, "attributes": {
                "style": style, "tempo": tempo, "mood": mood, "instruments": list(instruments or [])}},
            "adapter_label": adapter_label(adapter_id, name, version), "params": params_,
            "audio_ids": [a for a, _ in mine], "seeds": [seed for _, seed in mine],
            "stream_urls": [stream_url(a) for a, _ in mine], "error": error, "created_at": created,
            "finished_at": finished, "prompt_favourite": prompt_id in starred,
        })
    return schemas.Page[schemas.JobSummary].model_validate({"items": items, "total": total})


class _AudioStatements(NamedTuple):
    count: Select  # type: ignore[type-arg]  # clips matching every filter
    count_base: Select  # type: ignore[type-arg]  # clips matching the prompt/adapter filters
    rated_in_base: Select  # type: ignore[type-arg]  # of those, the clips :rater has rated
    page: Select  # type: ignore[type-arg]


@cache
def _audio_statements(by_prompt: bool, adapter: str | None, rated_by: bool, not_rated_by: bool) -> _AudioStatements:
    """The statements of one filter shape; ``adapter`` is None, "base" or "id"."""
    base = []
    if by_prompt:
        base.append(S.prompt_id == bindparam("prompt_id"))
    if adapter == "base":
        base.append(S.adapter_id.is_(None))
    elif adapter == "id":
        base.append(S.adapter_id == bindparam("adapter_id"))
    where = list(base)
    for name, rated in (("rated_by", rated_by), ("not_rated_by", not_rated_by)):
        probe = exists().where(Rating.rater_id == bindparam(name), Rating.audio_id == S.id)
        if rated:
            where.append(probe if name == "rated_by" else ~probe)
    # Count from the rater's side of ix_rating_rater_audio (their clips), not by probing every clip.
    mine = select(func.count(func.distinct(Rating.audio_id))).where(Rating.rater_id == bindparam("rater"))
    return _AudioStatements(
        count=select(func.count()).select_from(S).where(*where),
        count_base=select(func.count()).select_from(S).where(*base),
        rated_in_base=mine.where(Rating.audio_id.in_(select(S.id).where(*base))) if base else mine,
        page=(select(S.id, S.job_id, S.adapter_id, S.seed, S.duration, S.sample_rate, S.created_at, S.prompt_id,
                     S.rating_count, Adapter.name, Adapter.version)
              .outerjoin(Adapter, Adapter.id == S.adapter_id)
              .where(*where).order_by(S.id.desc()).offset(bindparam("offset")).limit(bindparam("limit"))),
    )


def _clip_count(conn: Connection, rater_id: int) -> int:
    clips = conn.scalar(_RATER_CLIPS, {"rater": rater_id})
    if clips is None:
        raise NotFound(f"Rater {rater_id} not found")
    return clips


def list_audio(db: Database, *, prompt_id: int | None, adapter_id: AdapterFilter, rated_by: int | None,
               not_rated_by: int | None, page: int, limit: int, stream_url: StreamUrl = default_stream_url
               ) -> schemas.Page[schemas.AudioListItem]:
    """Clips newest first, filtered by prompt, adapter, and who has or has not rated them.

    Raises:
        NotFound: an unknown rater in ``rated_by`` / ``not_rated_by``.
    """
    adapter = None if adapter_id is None else "base" if adapter_id == "base" else "id"
    filtered = prompt_id is not None or adapter is not None
    q = _audio_statements(prompt_id is not None, adapter, rated_by is not None, not_rated_by is not None)
    params = {"prompt_id": prompt_id, "adapter_id": adapter_id, "rated_by": rated_by, "not_rated_by": not_rated_by,
              "offset": (page - 1) * limit, "limit": limit}
    with db.session() as session:
        conn = session.connection()
        clip_counts = {r: _clip_count(conn, r) for r in (rated_by, not_rated_by) if r is not None}
        if (rated_by is None) != (not_rated_by is None):
            # Not rated = all matching clips - those the rater rated. Without a prompt/adapter
            # filter the rater's distinct clips are a kept total (a busy rater has 62k ratings
            # to count at 1M); with one, count them from the rater's side of the index.
            rater_id = rated_by if rated_by is not None else not_rated_by
            rated_total = clip_counts[rater_id]
            if filtered:
                rated_total = conn.scalar(q.rated_in_base, {**params, "rater": rater_id}) or 0
            total = rated_total if rated_by is not None else (conn.scalar(q.count_base, params) or 0) - rated_total
        else:
            total = conn.scalar(q.count, params) or 0
        rows = conn.execute(q.page, params).all()
    return schemas.Page[schemas.AudioListItem].model_validate({"total": total, "items": [
        {"id": r.id, "job_id": r.job_id, "adapter_id": r.adapter_id,
         "adapter_label": adapter_label(r.adapter_id, r.name, r.version), "seed": r.seed, "duration": r.duration,
         "sample_rate": r.sample_rate, "stream_url": stream_url(r.id), "created_at": r.created_at,
         "prompt_id": r.prompt_id, "rating_count": r.rating_count} for r in rows]})
