from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, SettingsDep, principal_or_none, require_role
from training_dashboard.config import VERSION
from training_dashboard.services import dispatch

router = APIRouter(tags=["health"])


@router.get("/health", response_model=schemas.Health)
def read_health(request: Request, db: DbDep, settings: SettingsDep) -> schemas.Health:
    """Liveness for anyone; with credentials also the model's and the workers' details."""
    health = _health(request, db, settings)
    if principal_or_none(request) is None:  # anonymous: no details about the model's files or the workers
        model = schemas.ModelStatus(base_model=health.model.base_model, status=health.model.status)
        return health.model_copy(update={"model": model, "workers": []})
    return health


def _health(request: Request, db, settings) -> schemas.Health:  # type: ignore[no-untyped-def]
    if settings.broker_url:
        database = db.ping()
        workers = dispatch.live_workers(db, settings.worker_lease_s) if database else []
        model = dispatch.broker_model_status(settings.base_model, workers)
        generating = any(dispatch.GENERATE in w.queues for w in workers)
        return schemas.Health(status="ok" if database and model.status != "failed" else "degraded", version=VERSION,
                              database=database, model=model, worker=generating, mode="broker", workers=workers)
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        model = worker.status()
    else:
        model = schemas.ModelStatus(base_model=settings.base_model, status="not_loaded",
                                    error="No generation worker runs in this process")
    database = db.ping()
    ok = database and model.status != "failed"
    return schemas.Health(status="ok" if ok else "degraded", version=VERSION, database=database, model=model,
                          worker=bool(worker is not None and getattr(worker, "running", False)))


@router.get("/workers", response_model=list[schemas.WorkerInfo], dependencies=[Depends(require_role("trainer"))])
def read_workers(db: DbDep, settings: SettingsDep) -> list[schemas.WorkerInfo]:
    """The worker processes heard of recently (broker mode; empty otherwise)."""
    return dispatch.live_workers(db, settings.worker_lease_s) if settings.broker_url else []
