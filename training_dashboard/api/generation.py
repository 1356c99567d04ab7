from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request

from training_dashboard import schemas
from training_dashboard.api import blinding
from training_dashboard.api.deps import AS_RATER, DbDep, LimitQ, PageQ, RaterDep, SettingsDep, require_role
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import history, jobs

router = APIRouter(prefix="/generate", tags=["generation"], dependencies=AS_RATER)
AS_TRAINER = [Depends(require_role("trainer"))]
IdPath = Path(ge=1, le=MAX_ID)


def _public(db, job_id: int) -> schemas.JobPublic:  # type: ignore[no-untyped-def]
    job, audio_ids = jobs.get_job(db, job_id)
    return schemas.JobPublic(
        id=job.id, prompt_id=job.prompt_id, adapter_id=job.adapter_id, status=job.status, progress=job.progress,
        audio_ids=audio_ids, error=job.error, num_samples=job.num_samples, params=job.params,
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        attempts=job.attempts, worker_name=job.worker_name,
    )


@router.post("", status_code=202, response_model=schemas.JobPublic, dependencies=AS_TRAINER)
def create_job(body: schemas.GenerateRequest, request: Request, db: DbDep, settings: SettingsDep) -> schemas.JobPublic:
    """Queue a generation job (1-4 clips of one prompt, base model or an active adapter)."""
    params = body.model_dump(exclude={"prompt_id", "num_samples", "adapter_id"})
    job = jobs.enqueue_job(db, body.prompt_id, body.adapter_id, body.num_samples, params, settings.base_model)
    if request.app.state.dispatcher is not None:
        request.app.state.dispatcher.poke()  # broker mode: send it now
    return _public(db, job.id or 0)


@router.get("", response_model=schemas.Page[schemas.JobSummary])
def read_jobs(request: Request, db: DbDep, principal: RaterDep, status: schemas.JobStatus | None = None,
              page: PageQ = 1, limit: LimitQ = 20) -> schemas.Page[schemas.JobSummary]:
    """Generation history: jobs newest first with prompt, attributes, adapter and clip ids."""
    result = history.list_jobs(db, status, page, limit, stream_url=request.app.state.signer.url,
                               user_id=principal.user_id)
    return result.model_copy(update={"items": blinding.jobs(db, principal, result.items)})


@router.get("/{job_id}", response_model=schemas.JobPublic)
def read_job(db: DbDep, principal: RaterDep, job_id: int = IdPath) -> schemas.JobPublic:
    """A job's status, progress, clips and error."""
    return blinding.jobs(db, principal, [_public(db, job_id)])[0]


@router.delete("/{job_id}", response_model=schemas.JobPublic, dependencies=AS_TRAINER)
def cancel_job(db: DbDep, job_id: int = IdPath) -> schemas.JobPublic:
    """Cancel a queued job, or stop a running one between decoding steps."""
    jobs.cancel_job(db, job_id)
    return _public(db, job_id)
