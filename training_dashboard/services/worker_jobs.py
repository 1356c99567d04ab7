"""Generation jobs run by Celery workers (scale-out): claim with a lease, progress, clip uploads, completion.

A worker claims a job (``queued`` -> ``processing``, ``attempts += 1``) and carries the claim's
``attempt`` on every later call; a call whose attempt is not the current one, or for a job that
is no longer processing, is refused with :class:`Conflict` (another attempt owns the job, or it
was cancelled). Clip ``index`` of job J is stored at one path, ``audio/job-J/{index}-seed{seed}.wav``
(seeds fixed at the first claim), so a redelivered job overwrites rather than duplicates; the
``AudioSample`` rows are created once, by :func:`complete_job`, in one transaction.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, GenerationJob, Prompt, utcnow
from training_dashboard.schemas import MAX_SEED
from training_dashboard.services import jobs
from training_dashboard.services.adapter_archive import adapter_key
from training_dashboard.services.errors import BadRequest, Conflict, NotFound
from training_dashboard.services.jobs import TERMINAL, clip_name, job_seeds

log = logging.getLogger(__name__)

MAX_CLIP_BYTES = 64 * 1024**2  # a 30 s clip is ~2 MB as 16-bit mono; float32 stereo 48 kHz ~12 MB
MAX_SAMPLE_RATE = 384_000
UPLOAD_PREFIX = ".upload-"


def job_dir(settings: Settings, job_id: int) -> Path:
    return settings.audio_dir / f"job-{job_id}"


def claim_job(db: Database, settings: Settings, job_id: int, worker: str | None) -> schemas.WorkerJobClaimed:
    """Give a queued job to ``worker``: a new attempt under a fresh lease.

    Raises:
        NotFound: unknown job.
        Conflict: the job is finished or cancelled, or another worker holds it (a duplicate delivery).
    """

    def run(session: Session) -> schemas.WorkerJobClaimed | str:
        job = session.get(GenerationJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        now = utcnow()
        if job.status in TERMINAL:
            raise Conflict(f"Job {job_id} is already {job.status}")
        if job.status == "processing":
            raise Conflict(_held_elsewhere(job, now, settings.worker_lease_s))
        if job.cancel_requested:  # cancelled while waiting in the broker: it ends here
            job.status, job.finished_at, job.updated_at = "cancelled", now, now
            return f"Job {job_id} was cancelled before a worker started it"
        if job.seed_start is None:
            seed = job.params.get("seed")
            job.seed_start = int(seed) if seed is not None else secrets.randbelow(MAX_SEED + 1)
        job.status, job.progress, job.error = "processing", 0.0, None
        job.attempts += 1
        job.worker_name = worker or None
        job.started_at = job.heartbeat_at = job.updated_at = now
        prompt = session.get(Prompt, job.prompt_id)
        if prompt is None:  # prompts are never deleted while jobs reference them; be explicit anyway
            raise NotFound(f"Prompt {job.prompt_id} of job {job_id} not found")
        adapter = session.get(Adapter, job.adapter_id) if job.adapter_id is not None else None
        ref = None
        if adapter is not None:
            ref = schemas.WorkerAdapterRef(id=adapter.id or 0, base_model=adapter.base_model,
                                           key=_adapter_key_or_none(Path(adapter.path)))
        return schemas.WorkerJobClaimed(
            attempt=job.attempts, job_id=job_id, prompt_text=prompt.text,
            prompt_attributes={"style": prompt.style, "tempo": prompt.tempo, "instruments": prompt.instruments,
                               "mood": prompt.mood},
            num_samples=job.num_samples, params=dict(job.params), seeds=job_seeds(job.seed_start, job.num_samples),
            base_model=settings.base_model, adapter=ref,
        )

    result = db.write(run)
    if isinstance(result, str):
        raise Conflict(result)
    return result


def report_progress(db: Database, job_id: int, attempt: int, progress: float) -> bool:
    """Record progress and renew the lease. Returns whether the user asked to cancel.

    Raises:
        NotFound: unknown job.
        Conflict: ``attempt`` does not hold the job.
    """

    def run(session: Session) -> bool:
        job = _held(session, job_id, attempt)
        now = utcnow()
        job.progress, job.heartbeat_at, job.updated_at = progress, now, now
        return bool(job.cancel_requested)

    return db.write(run)


def check_clip(db: Database, settings: Settings, job_id: int, index: int, attempt: int, seed: int) -> Path:
    """Validate an upload's coordinates before its body is read. Returns the job's clip directory.

    Raises:
        NotFound: unknown job.
        Conflict: ``attempt`` does not hold the job.
        BadRequest: ``index`` out of range or ``seed`` not the one the claim gave that index.
    """
    with db.session() as session:
        job = session.get(GenerationJob, job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        _check_held(job, attempt)
        _check_index(job, index, seed)
    directory = job_dir(settings, job_id)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def store_clip(db: Database, settings: Settings, job_id: int, index: int, attempt: int, seed: int,
               upload: Path) -> schemas.WorkerClip:
    """Validate the uploaded WAV file and move it to the clip's one path (replacing an earlier upload).

    ``upload`` is a temporary file in the job's directory; it is moved or left for the caller to delete.

    Raises:
        BadRequest: not a readable WAV file, or bad index/seed.
        NotFound, Conflict: as :func:`check_clip`.
    """
    frames, rate = read_wav(upload)
    name = clip_name(index, seed)

    def run(session: Session) -> None:
        job = _held(session, job_id, attempt)
        _check_index(job, index, seed)
        # Renamed while the job row is locked: a complete/fail/cancel of the job cannot interleave.
        os.replace(upload, job_dir(settings, job_id) / name)
        now = utcnow()
        job.heartbeat_at = job.updated_at = now

    db.write(run)
    rel = (job_dir(settings, job_id) / name).relative_to(settings.resolved_data_dir).as_posix()
    return schemas.WorkerClip(file_path=rel, duration=frames / rate, sample_rate=rate)


def complete_job(db: Database, settings: Settings, job_id: int, attempt: int) -> list[int]:
    """Create the job's clip rows and mark it completed, once. Returns the audio ids.

    A second call with the same attempt returns the same ids.

    Raises:
        NotFound: unknown job.
        Conflict: ``attempt`` does not hold the job, or clips are missing (named in the message).
    """
    directory = job_dir(settings, job_id)

    def run(session: Session) -> list[int]:
        job = session.get(GenerationJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        if job.status == "completed" and job.attempts == attempt:
            return list(session.scalars(
                select(AudioSample.id).where(AudioSample.job_id == job_id).order_by(AudioSample.id)))
        _check_held(job, attempt)
        samples, missing = [], []
        for index, seed in enumerate(job_seeds(job.seed_start, job.num_samples)):
            path = directory / clip_name(index, seed)
            try:
                frames, rate = read_wav(path)
            except BadRequest:
                missing.append(index)
                continue
            samples.append(jobs.GeneratedSample(
                seed=seed, duration=frames / rate, sample_rate=rate,
                file_path=path.relative_to(settings.resolved_data_dir).as_posix(),
                params={**job.params, "seed": seed, "base_model": settings.base_model}))
        if missing:
            raise Conflict(f"Job {job_id} cannot complete: clip(s) {', '.join(map(str, missing))} of "
                           f"{job.num_samples} not uploaded")
        return jobs.complete_in_session(session, job, samples)

    ids = db.write(run)
    _sweep(directory, keep={Path(p).name for p in _clip_paths(db, job_id)})
    return ids


def finish_job(db: Database, settings: Settings, job_id: int, attempt: int, status: str,
               error: str | None = None) -> str:
    """End a job as ``failed`` (with ``error``) or ``cancelled`` and drop its uploaded clips.

    Repeating the same report for the same attempt is answered the same way (idempotent).

    Raises:
        NotFound: unknown job.
        Conflict: ``attempt`` does not hold the job, or ``cancelled`` for a job nobody asked to cancel.
    """
    assert status in ("failed", "cancelled")

    def run(session: Session) -> bool:
        job = session.get(GenerationJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        if job.status == status and job.attempts == attempt:
            return False
        _check_held(job, attempt)
        if status == "cancelled" and not job.cancel_requested:
            raise Conflict(f"Job {job_id} was not asked to cancel: finish it or report it failed")
        now = utcnow()
        job.status, job.error, job.finished_at, job.updated_at = status, error, now, now
        return True

    if db.write(run):
        shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)
    return status


def read_wav(path: Path) -> tuple[int, int]:
    """Decode a WAV file fully. Returns ``(frames, sample_rate)``.

    Raises:
        BadRequest: missing, not a WAV file, empty, or undecodable.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as audio:
            if audio.format not in ("WAV", "WAVEX"):
                raise BadRequest(f"The clip must be a WAV file, not {audio.format}")
            rate, channels = audio.samplerate, audio.channels
            frames = sum(len(block) for block in audio.blocks(blocksize=65536))
    except BadRequest:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile errors have no common base worth naming
        raise BadRequest(f"The clip is not a readable WAV file: {' '.join(str(exc).split())[:300]}") from exc
    if not 1 <= rate <= MAX_SAMPLE_RATE:
        raise BadRequest(f"The clip's sample rate {rate} is outside 1..{MAX_SAMPLE_RATE} Hz")
    if not 1 <= channels <= 8:
        raise BadRequest(f"The clip has {channels} channels (1-8 allowed)")
    if frames == 0:
        raise BadRequest("The clip holds no audio (0 frames)")
    return frames, rate


def _held(session: Session, job_id: int, attempt: int) -> GenerationJob:
    job = session.get(GenerationJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"Job {job_id} not found")
    _check_held(job, attempt)
    return job


def _check_held(job: GenerationJob, attempt: int) -> None:
    if job.status != "processing":
        raise Conflict(f"Job {job.id} is {job.status}, not processing: attempt {attempt} no longer holds it")
    if job.attempts != attempt:
        raise Conflict(f"Job {job.id} is held by attempt {job.attempts} (worker {job.worker_name or '?'}), "
                       f"not attempt {attempt}")


def _check_index(job: GenerationJob, index: int, seed: int) -> None:
    if not 0 <= index < job.num_samples:
        raise BadRequest(f"Clip index {index} is out of range: job {job.id} has {job.num_samples} clip(s) "
                         f"(0..{job.num_samples - 1})")
    expected = job_seeds(job.seed_start, job.num_samples)[index]
    if seed != expected:
        raise BadRequest(f"Clip {index} of job {job.id} has seed {expected}, not {seed}")


def _held_elsewhere(job: GenerationJob, now: datetime, lease_s: float) -> str:
    held = f"Job {job.id} is already processing on worker {job.worker_name or '?'} (attempt {job.attempts})"
    if job.heartbeat_at is None:
        return held
    silent = (now - _aware(job.heartbeat_at)).total_seconds()
    if silent < lease_s:
        return f"{held} under a live lease: a duplicate delivery"
    return f"{held}, silent for {silent:.0f} s: the app queues it again once its lease has expired"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _adapter_key_or_none(directory: Path) -> str | None:
    try:
        return adapter_key(directory)
    except OSError:
        return None  # the archive download then says what is wrong


def _clip_paths(db: Database, job_id: int) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AudioSample.file_path).where(AudioSample.job_id == job_id)))


def _sweep(directory: Path, keep: set[str]) -> None:
    """Remove what is not a stored clip (an upload a crash interrupted, a stale index's file)."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name not in keep:
            try:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            except OSError as exc:
                log.warning("could not remove %s: %s", entry, exc)
