"""The generation job queue and the worker interface.

The API enqueues jobs; the embedded worker (a thread in the app, ``worker.embedded``) claims
them one at a time with :func:`claim_next_job`,
reports progress with :func:`set_progress` (which also tells it whether the user asked to
cancel) and finishes with :func:`complete_job`, :func:`fail_job` or :func:`mark_cancelled`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, GenerationJob, Prompt, utcnow
from training_dashboard.schemas import MAX_SEED
from training_dashboard.services.errors import BadRequest, Conflict, NotFound

TERMINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to run a job, detached from any session."""

    id: int
    prompt_id: int
    prompt_text: str
    prompt_attributes: dict[str, Any]
    adapter_id: int | None
    adapter_path: str | None
    adapter_base_model: str | None
    num_samples: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedSample:
    """One finished clip; ``file_path`` is relative to the data dir."""

    seed: int
    duration: float
    sample_rate: int
    file_path: str
    params: dict[str, Any] = field(default_factory=dict)


def enqueue_job(db: Database, prompt_id: int, adapter_id: int | None, num_samples: int,
                params: dict[str, Any], base_model: str) -> GenerationJob:
    """Validate the request against the registry and queue a job.

    Raises:
        NotFound: unknown prompt or adapter.
        BadRequest: the adapter is inactive or was trained for another base model.
    """

    def run(session: Session) -> GenerationJob:
        if session.get(Prompt, prompt_id) is None:
            raise NotFound(f"Prompt {prompt_id} not found")
        if adapter_id is not None:
            adapter = session.get(Adapter, adapter_id)
            if adapter is None:
                raise NotFound(f"Adapter {adapter_id} not found")
            if not adapter.is_active:
                raise BadRequest(
                    f"Adapter '{adapter.name}' {adapter.version} is inactive: activate it on the Adapters tab first"
                )
            if adapter.base_model != base_model:
                raise BadRequest(
                    f"Adapter '{adapter.name}' {adapter.version} was trained for base model "
                    f"'{adapter.base_model}', but this server runs '{base_model}'"
                )
        job = GenerationJob(prompt_id=prompt_id, adapter_id=adapter_id, num_samples=num_samples, params=params)
        session.add(job)
        session.flush()
        return job

    return db.write(run)


def get_job(db: Database, job_id: int) -> tuple[GenerationJob, list[int]]:
    """The job and the ids of the clips it produced."""
    with db.session() as session:
        job = session.get(GenerationJob, job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        audio_ids = list(
            session.scalars(select(AudioSample.id).where(AudioSample.job_id == job_id).order_by(AudioSample.id))
        )
        return job, audio_ids


def cancel_job(db: Database, job_id: int) -> None:
    """Cancel a queued job at once; ask a running one to stop between decoding steps.

    Raises:
        NotFound: unknown job.
        Conflict: the job already finished.
    """

    def run(session: Session) -> None:
        job = session.get(GenerationJob, job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        if job.status in TERMINAL:
            raise Conflict(f"Job {job_id} is already {job.status}")
        now = utcnow()
        if job.status == "queued":
            job.status, job.finished_at = "cancelled", now
        job.cancel_requested = True
        job.updated_at = now

    db.write(run)


def claim_next_job(db: Database) -> ClaimedJob | None:
    """Atomically move the oldest queued job to ``processing`` and return it."""
    if not _any_queued(db, GenerationJob):
        return None  # the idle poll stays a read: no write transaction, no turn at the writer lock

    def run(session: Session) -> ClaimedJob | None:
        while True:
            job_id = session.scalar(
                select(GenerationJob.id).where(GenerationJob.status == "queued").order_by(GenerationJob.id).limit(1)
            )
            if job_id is None:
                return None
            now = utcnow()
            claimed = session.execute(
                update(GenerationJob)
                .where(GenerationJob.id == job_id, GenerationJob.status == "queued")
                .values(status="processing", started_at=now, updated_at=now, progress=0.0)
            ).rowcount
            if claimed:
                break
        job = session.get(GenerationJob, job_id)
        assert job is not None
        prompt = session.get(Prompt, job.prompt_id)
        assert prompt is not None
        adapter = session.get(Adapter, job.adapter_id) if job.adapter_id else None
        return ClaimedJob(
            id=job.id or 0,
            prompt_id=prompt.id or 0,
            prompt_text=prompt.text,
            prompt_attributes={
                "style": prompt.style, "tempo": prompt.tempo, "instruments": prompt.instruments, "mood": prompt.mood
            },
            adapter_id=job.adapter_id,
            adapter_path=adapter.path if adapter else None,
            adapter_base_model=adapter.base_model if adapter else None,
            num_samples=job.num_samples,
            params=dict(job.params),
        )

    return db.write(run)


def _any_queued(db: Database, table: Any) -> bool:
    with db.session() as session:
        return session.scalar(select(table.id).where(table.status == "queued").limit(1)) is not None


def set_progress(db: Database, job_id: int, progress: float) -> bool:
    """Record progress (0..1). Returns False when the user asked to cancel the job."""

    def run(session: Session) -> bool:
        session.execute(
            update(GenerationJob)
            .where(GenerationJob.id == job_id, GenerationJob.status == "processing")
            .values(progress=max(0.0, min(1.0, progress)), updated_at=utcnow())
        )
        return not session.scalar(select(GenerationJob.cancel_requested).where(GenerationJob.id == job_id))

    return db.write(run)


def complete_job(db: Database, job_id: int, samples: list[GeneratedSample]) -> list[int]:
    """Store the clips and mark the job completed, in one transaction. Returns audio ids."""

    def run(session: Session) -> list[int]:
        job = session.get(GenerationJob, job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        return complete_in_session(session, job, samples)

    return db.write(run)


def complete_in_session(session: Session, job: GenerationJob, samples: list[GeneratedSample]) -> list[int]:
    """Add the clips' rows and mark ``job`` completed inside the caller's transaction."""
    rows = [
        AudioSample(
            prompt_id=job.prompt_id, job_id=job.id, adapter_id=job.adapter_id, seed=s.seed,
            duration=s.duration, sample_rate=s.sample_rate, file_path=s.file_path, params=s.params,
        )
        for s in samples
    ]
    session.add_all(rows)
    now = utcnow()
    job.status, job.progress, job.finished_at, job.updated_at = "completed", 1.0, now, now
    session.flush()
    return [r.id or 0 for r in rows]


def job_seeds(seed: int | None, count: int) -> list[int]:
    """Per-sample seeds: ``seed, seed+1, ...`` (wrapping at 2**32), random when ``seed`` is None.

    Generating again with a sample's recorded seed (and the same adapter and parameters)
    reproduces that sample.
    """
    start = secrets.randbelow(MAX_SEED + 1) if seed is None else int(seed)
    return [(start + i) % (MAX_SEED + 1) for i in range(count)]


def clip_name(index: int, seed: int) -> str:
    """The file name of clip ``index`` of a job (under ``audio/job-<id>/``), one per index and seed."""
    return f"{index}-seed{seed}.wav"


def fail_job(db: Database, job_id: int, error: str) -> None:
    _finish(db, job_id, "failed", error[:4000])


def mark_cancelled(db: Database, job_id: int) -> None:
    _finish(db, job_id, "cancelled", None)


def _finish(db: Database, job_id: int, status: str, error: str | None) -> None:
    now = utcnow()

    def run(session: Session) -> None:
        session.execute(
            update(GenerationJob)
            .where(GenerationJob.id == job_id)
            .values(status=status, error=error, finished_at=now, updated_at=now)
        )

    db.write(run)


def recover_stuck_jobs(db: Database, requeue: bool = True) -> int:
    """Jobs left ``processing`` by a crash: re-queue them (or fail them with a reason).

    Call once at worker start-up, before claiming. Returns how many were recovered.
    """
    now = utcnow()

    def run(session: Session) -> int:
        cancelled = session.execute(
            update(GenerationJob)
            .where(GenerationJob.status == "processing", GenerationJob.cancel_requested.is_(True))
            .values(status="cancelled", finished_at=now, updated_at=now)
        ).rowcount or 0
        stmt = update(GenerationJob).where(GenerationJob.status == "processing")
        if requeue:
            stmt = stmt.values(status="queued", progress=0.0, started_at=None, updated_at=now)
        else:
            stmt = stmt.values(
                status="failed", error="The server stopped while this job was running; generate again.",
                finished_at=now, updated_at=now,
            )
        return cancelled + (session.execute(stmt).rowcount or 0)

    return db.write(run)


def queue_in_session(session: Session, prompt_id: int, adapter_id: int | None, num_samples: int,
                     params: dict[str, Any]) -> GenerationJob:
    """Queue a job inside the caller's transaction, already validated by the caller.

    For use cases that queue many jobs atomically with their own rows (blind evaluations, which
    may generate with an adapter that is not active yet). The worker treats it like any job.
    """
    job = GenerationJob(prompt_id=prompt_id, adapter_id=adapter_id, num_samples=num_samples, params=params)
    session.add(job)
    session.flush()
    return job
