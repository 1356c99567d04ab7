"""Worker-only: the heartbeat every worker process sends (registry + lease renewal)."""

from __future__ import annotations

from fastapi import APIRouter

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, WorkerDep
from training_dashboard.services import dispatch

router = APIRouter(prefix="/worker", tags=["worker"])


@router.post("/heartbeat")
def worker_heartbeat(body: schemas.WorkerHeartbeat, db: DbDep, _worker: WorkerDep) -> dict[str, bool]:
    """A worker reports itself and renews the leases of the jobs and runs it is working on."""
    dispatch.record_heartbeat(db, body)
    return {"ok": True}
