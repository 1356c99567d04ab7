"""Training runs launched from the dashboard: create, list, watch (metrics, log), cancel, resume, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from training_dashboard import schemas
from training_dashboard.api.deps import AS_TRAINER, DbDep, LimitQ, PageQ, SettingsDep, TrainerDep, actor_id
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import run_metrics, runs

router = APIRouter(prefix="/runs", tags=["runs"], dependencies=AS_TRAINER)
IdPath = Path(ge=1, le=MAX_ID)
MAX_LOG_BYTES = 1_048_576


@router.get("/options", response_model=schemas.RunOptions)
def read_run_options() -> schemas.RunOptions:
    """The presets and every training option with its range (the CLI's)."""
    return runs.run_options()


@router.post("", status_code=202, response_model=schemas.RunPublic)
def create_run(body: schemas.RunCreate, db: DbDep, settings: SettingsDep, principal: TrainerDep) -> schemas.RunPublic:
    """Queue a training run (exporting the dataset first if it has no current export)."""
    return runs.create_run(db, body, data_dir=settings.resolved_data_dir, exports_dir=settings.exports_dir,
                           adapter_root=settings.run_adapter_root, base_model=settings.base_model,
                           created_by=actor_id(principal))


@router.get("", response_model=schemas.Page[schemas.RunPublic])
def read_runs(db: DbDep, page: PageQ = 1, limit: LimitQ = 20, status: schemas.RunStatus | None = None,
              dataset_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> schemas.Page[schemas.RunPublic]:
    """List runs, newest first."""
    return runs.list_runs(db, status, dataset_id, page, limit)


@router.get("/{run_id}", response_model=schemas.RunPublic)
def read_run(db: DbDep, run_id: int = IdPath) -> schemas.RunPublic:
    """One run: status, progress, resolved config, command, adapter."""
    return runs.get_run(db, run_id)


@router.get("/{run_id}/metrics", response_model=schemas.RunMetrics)
def read_run_metrics(db: DbDep, run_id: int = IdPath,
                     since_step: Annotated[int, Query(ge=0, le=10**9)] = 0,
                     max_points: Annotated[int, Query(ge=10, le=100_000)] = 500) -> Response:
    """Loss, held-out loss, learning rate, gradient norm (and DPO rewards) from ``since_step``, downsampled."""
    # Serialized once here: the response model would validate thousands of points a second time.
    body = run_metrics.read_metrics(db, run_id, since_step, max_points).model_dump_json()
    return Response(content=body, media_type="application/json")


@router.get("/{run_id}/logs", response_model=schemas.RunLogs)
def read_run_logs(db: DbDep, settings: SettingsDep, run_id: int = IdPath,
                  offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
                  limit: Annotated[int, Query(ge=1, le=MAX_LOG_BYTES)] = 65_536,
                  tail: Annotated[int | None, Query(ge=1, le=MAX_LOG_BYTES,
                                                    description="the last N bytes instead of offset")] = None,
                  ) -> schemas.RunLogs:
    """The run's log from a byte offset; ``next_offset`` continues it, ``complete`` says it will not grow."""
    return run_metrics.read_log(db, settings.resolved_data_dir, run_id, offset, limit, tail)


@router.post("/{run_id}/cancel", response_model=schemas.RunPublic)
def cancel_run(db: DbDep, run_id: int = IdPath) -> schemas.RunPublic:
    """Cancel: a queued run at once, a running one after its current step (checkpoints are kept)."""
    return runs.cancel_run(db, run_id)


@router.post("/{run_id}/resume", response_model=schemas.RunPublic)
def resume_run(db: DbDep, run_id: int = IdPath) -> schemas.RunPublic:
    """Continue a cancelled or failed run from its last checkpoint, under the same id."""
    return runs.resume_run(db, run_id)


@router.delete("/{run_id}", status_code=204, response_class=Response)
def delete_run(db: DbDep, settings: SettingsDep, run_id: int = IdPath) -> Response:
    """Delete a finished run (409 while queued or running); the adapter it registered stays."""
    runs.delete_run(db, run_id, run_metrics.log_path(settings.resolved_data_dir, run_id))
    return Response(status_code=204)
