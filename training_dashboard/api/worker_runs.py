"""Worker-only endpoints for training runs (``/api/worker/runs/*``, worker token required).

A Celery worker claims a run, downloads its dataset export (and its last checkpoint), and
reports metrics, log text, checkpoints and the finished run here; see
``services/worker_runs.py`` and SCALE.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path as FsPath
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, SettingsDep, WorkerDep
from training_dashboard.api.uploads import receive_to_file, scratch_file
from training_dashboard.config import Settings
from training_dashboard.files.archives import pack_file
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import worker_runs

router = APIRouter(prefix="/worker/runs", tags=["worker"])
IdPath = Path(ge=1, le=MAX_ID)
AttemptQ = Annotated[int, Query(ge=1, le=MAX_ID, description="the attempt the claim returned")]
TAR = "application/x-tar"
T = TypeVar("T")


@router.post("/{run_id}/claim", response_model=schemas.WorkerRunClaim)
def claim_run(body: schemas.WorkerRunClaimRequest, worker: WorkerDep, db: DbDep, settings: SettingsDep,
              run_id: int = IdPath) -> schemas.WorkerRunClaim:
    """Lease a queued run: 409 when it is finished or already running, 410 when its export is gone."""
    return worker_runs.claim(db, settings, run_id, worker)


def _send_tar(path: FsPath, filename: str) -> FileResponse:
    return FileResponse(path, media_type=TAR, filename=filename,
                        background=BackgroundTask(lambda: path.unlink(missing_ok=True)))


@router.get("/{run_id}/export", response_class=FileResponse, responses={200: {"content": {TAR: {}}}})
def download_export(_worker: WorkerDep, db: DbDep, settings: SettingsDep, run_id: int = IdPath) -> FileResponse:
    """The run's dataset export directory as a tar (410 when it is gone)."""
    folder = worker_runs.export_dir(db, run_id)
    spool = worker_runs.spool_path(settings, run_id)
    try:
        pack_file(folder, spool)
    except OSError as exc:
        spool.unlink(missing_ok=True)
        raise HTTPException(410, f"The dataset export of run {run_id} could not be read ({exc}). "
                                 "Start a new run from the dataset.") from exc
    return _send_tar(spool, f"run-{run_id}-export.tar")


@router.get("/{run_id}/checkpoint", response_class=FileResponse, responses={200: {"content": {TAR: {}}}})
def download_checkpoint(_worker: WorkerDep, db: DbDep, settings: SettingsDep, run_id: int = IdPath) -> FileResponse:
    """The last uploaded checkpoint (404 when none); header ``X-TD-Checkpoint-Step``."""
    step, path = worker_runs.stored_checkpoint(db, settings, run_id)
    return FileResponse(path, media_type=TAR, filename=f"run-{run_id}-checkpoint-{step}.tar",
                        headers={"X-TD-Checkpoint-Step": str(step)})


async def _store_upload(request: Request, settings: Settings, run_id: int, store: Callable[[FsPath], T]) -> T:
    """Spool the upload body (a tar; not empty) to a scratch file of the run, ``store`` it in a thread, drop it."""
    dest = scratch_file(lambda: worker_runs.spool_path(settings, run_id), f"uploads of run {run_id}")
    limit = settings.max_upload_bytes
    try:
        size = await receive_to_file(request, dest, limit, f"Upload larger than {limit} bytes (TD_MAX_UPLOAD_BYTES)",
                                     "the upload")
        if size == 0:
            raise HTTPException(400, "Empty upload: send the tar archive as the request body")
        return await run_in_threadpool(store, dest)
    finally:
        dest.unlink(missing_ok=True)


@router.put("/{run_id}/checkpoint", response_model=schemas.WorkerRunCheckpoint)
async def upload_checkpoint(request: Request, _worker: WorkerDep, db: DbDep, settings: SettingsDep,
                            attempt: AttemptQ, step: Annotated[int, Query(ge=1, le=worker_runs.MAX_STEP)],
                            run_id: int = IdPath) -> schemas.WorkerRunCheckpoint:
    """Store a checkpoint tar (train_config.json, checkpoints/step-N, best/, metrics.jsonl) atomically."""
    await run_in_threadpool(worker_runs.check_lease, db, run_id, attempt)
    kept = await _store_upload(request, settings, run_id,
                               partial(worker_runs.store_checkpoint, db, settings, run_id, attempt, step))
    return schemas.WorkerRunCheckpoint(checkpoint_step=kept)


@router.post("/{run_id}/progress", response_model=schemas.WorkerRunCancel)
def report_progress(body: schemas.WorkerRunProgress, _worker: WorkerDep, db: DbDep, settings: SettingsDep,
                    run_id: int = IdPath) -> schemas.WorkerRunCancel:
    """New metric records and log text; renews the lease; answers whether the user asked to cancel."""
    return schemas.WorkerRunCancel(cancel=worker_runs.progress(db, settings, run_id, body))


@router.put("/{run_id}/result", response_model=schemas.WorkerRunResult)
async def upload_result(request: Request, _worker: WorkerDep, db: DbDep, settings: SettingsDep, attempt: AttemptQ,
                        run_id: int = IdPath) -> schemas.WorkerRunResult:
    """The finished run directory as a tar (no checkpoints): unpacked into the run's output dir, adapter
    registered once. A second upload by the same attempt returns the same adapter."""
    adapter_id = await _store_upload(request, settings, run_id,
                                     partial(worker_runs.store_result, db, settings, run_id, attempt))
    return schemas.WorkerRunResult(adapter_id=adapter_id)


@router.post("/{run_id}/finish", response_model=schemas.WorkerRunFinished)
def finish_run(body: schemas.WorkerRunFinish, _worker: WorkerDep, db: DbDep, settings: SettingsDep,
               run_id: int = IdPath) -> schemas.WorkerRunFinished:
    """End the attempt: failed, cancelled, or queued (handed back to continue from its checkpoint)."""
    worker_runs.finish(db, settings, run_id, body)
    return schemas.WorkerRunFinished()
