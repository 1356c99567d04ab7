from __future__ import annotations

from fastapi import APIRouter, Request

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, SettingsDep
from training_dashboard.config import VERSION

router = APIRouter(tags=["health"])


@router.get("/health", response_model=schemas.Health)
def read_health(request: Request, db: DbDep, settings: SettingsDep) -> schemas.Health:
    """Database reachability, base model status and version."""
    engine = getattr(request.app.state, "engine", None)
    if engine is not None:
        model = engine.status()
    else:
        model = schemas.ModelStatus(base_model=settings.base_model, status="not_loaded",
                                    error="No generation worker runs in this process")
    database = db.ping()
    ok = database and model.status != "failed"
    return schemas.Health(status="ok" if ok else "degraded", version=VERSION, database=database, model=model,
                          worker=bool(engine is not None and getattr(engine, "running", False)))
