"""Worker-only endpoints for generation jobs (scale-out): claim, progress, clip uploads, outcome.

Only the worker token may call them (``WorkerDep``). Every call after the claim carries the
claim's ``attempt``; a stale one gets 409 and the worker drops the job.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, SettingsDep, WorkerDep
from training_dashboard.api.uploads import receive_to_file, scratch_file
from training_dashboard.schemas import MAX_ID, MAX_SEED
from training_dashboard.services import adapter_archive, worker_jobs

router = APIRouter(prefix="/worker", tags=["worker"])
IdPath = Path(ge=1, le=MAX_ID)  # job ids (one instance per parameter name)
AttemptQ = Annotated[int, Query(ge=1, le=MAX_ID, description="the claim's attempt")]
SeedQ = Annotated[int, Query(ge=0, le=MAX_SEED, description="the seed the claim gave this clip")]


@router.post("/jobs/{job_id}/claim", response_model=schemas.WorkerJobClaimed)
def claim_job(db: DbDep, settings: SettingsDep, worker: WorkerDep, job_id: int = IdPath,
              body: Annotated[schemas.WorkerJobClaim | None, Body()] = None) -> schemas.WorkerJobClaimed:
    """Claim a queued job under a new lease (409: finished, cancelled or held by a live worker)."""
    return worker_jobs.claim_job(db, settings, job_id, worker)


@router.post("/jobs/{job_id}/progress", response_model=schemas.WorkerJobCancel)
def report_progress(body: schemas.WorkerJobProgress, db: DbDep, _: WorkerDep,
                    job_id: int = IdPath) -> schemas.WorkerJobCancel:
    """Record progress and renew the lease; the answer says whether the user asked to cancel."""
    return schemas.WorkerJobCancel(cancel=worker_jobs.report_progress(db, job_id, body.attempt, body.progress))


@router.put("/jobs/{job_id}/clips/{index}", response_model=schemas.WorkerClip)
async def upload_clip(request: Request, db: DbDep, settings: SettingsDep, _: WorkerDep, attempt: AttemptQ,
                      seed: SeedQ, job_id: int = IdPath,
                      index: int = Path(ge=0, le=1000, description="the clip's index in the job")
                      ) -> schemas.WorkerClip:
    """Store clip ``index`` (a WAV body) at its one path; sending it again replaces it."""
    directory = await run_in_threadpool(worker_jobs.check_clip, db, settings, job_id, index, attempt, seed)
    upload = scratch_file(lambda: _scratch_in(directory), f"clips in {directory}")
    try:
        await receive_to_file(request, upload, worker_jobs.MAX_CLIP_BYTES,
                              f"A clip may be at most {worker_jobs.MAX_CLIP_BYTES} bytes", "the clip")
        return await run_in_threadpool(worker_jobs.store_clip, db, settings, job_id, index, attempt, seed, upload)
    finally:
        upload.unlink(missing_ok=True)


def _scratch_in(directory: FsPath) -> FsPath:
    fd, name = tempfile.mkstemp(dir=directory, prefix=worker_jobs.UPLOAD_PREFIX, suffix=".part")
    os.close(fd)
    return FsPath(name)


@router.post("/jobs/{job_id}/complete", response_model=schemas.WorkerJobCompleted)
def complete_job(body: schemas.WorkerJobAttempt, db: DbDep, settings: SettingsDep, _: WorkerDep,
                 job_id: int = IdPath) -> schemas.WorkerJobCompleted:
    """Create the clips' rows once every index was uploaded (the same ids again for a repeated call)."""
    return schemas.WorkerJobCompleted(audio_ids=worker_jobs.complete_job(db, settings, job_id, body.attempt))


@router.post("/jobs/{job_id}/fail", response_model=schemas.WorkerJobFinished)
def fail_job(body: schemas.WorkerJobFail, db: DbDep, settings: SettingsDep, _: WorkerDep,
             job_id: int = IdPath) -> schemas.WorkerJobFinished:
    """Mark the job failed with the worker's error; its uploaded clips are dropped."""
    status = worker_jobs.finish_job(db, settings, job_id, body.attempt, "failed", body.error)
    return schemas.WorkerJobFinished(status=status)  # type: ignore[arg-type]


@router.post("/jobs/{job_id}/cancelled", response_model=schemas.WorkerJobFinished)
def cancelled_job(body: schemas.WorkerJobAttempt, db: DbDep, settings: SettingsDep, _: WorkerDep,
                  job_id: int = IdPath) -> schemas.WorkerJobFinished:
    """The worker stopped a job the user cancelled; its uploaded clips are dropped."""
    status = worker_jobs.finish_job(db, settings, job_id, body.attempt, "cancelled")
    return schemas.WorkerJobFinished(status=status)  # type: ignore[arg-type]


@router.get("/adapters/{adapter_id}/archive", response_class=FileResponse,
            responses={200: {"content": {"application/x-tar": {}}}})
def read_adapter_archive(db: DbDep, _: WorkerDep, adapter_id: int = Path(ge=1, le=MAX_ID)) -> FileResponse:
    """A tar of the adapter's config and weights; ``X-TD-Adapter-Key`` changes when they are re-saved."""
    path, key = adapter_archive.adapter_archive(db, adapter_id)
    return FileResponse(path, media_type="application/x-tar", filename=f"adapter-{adapter_id}.tar",
                        headers={"X-TD-Adapter-Key": key}, background=BackgroundTask(path.unlink, missing_ok=True))
