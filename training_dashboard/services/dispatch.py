"""Scale-out bookkeeping in the app: what still has to be sent to the broker, leases that ran
out, and the registry of worker processes.

The app is the system of record: a job or run is sent to Celery only as its id (the outbox:
``dispatched_at IS NULL`` means "not sent yet"), and when the worker holding it stops being
heard of for longer than the lease, the app — never another worker — puts it back in the queue
to be sent again. Workers renew their leases with every call and with their heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import GenerationJob, TrainingRun, WorkerNode, utcnow
from training_dashboard.services.run_metrics import append_log

GENERATE, TRAIN = "generate", "train"


@dataclass(frozen=True)
class Pending:
    kind: str  # "generate" | "train"
    id: int


def pending(db: Database, limit: int = 200) -> list[Pending]:
    """Queued jobs and runs not yet sent to the broker, oldest first."""
    with db.session() as session:
        job_ids = session.scalars(select(GenerationJob.id).where(
            GenerationJob.status == "queued", GenerationJob.dispatched_at.is_(None))
            .order_by(GenerationJob.id).limit(limit)).all()
        run_ids = session.scalars(select(TrainingRun.id).where(
            TrainingRun.status == "queued", TrainingRun.dispatched_at.is_(None))
            .order_by(TrainingRun.id).limit(limit)).all()
    return [Pending(GENERATE, i) for i in job_ids] + [Pending(TRAIN, i) for i in run_ids]


def _table(kind: str) -> type[GenerationJob] | type[TrainingRun]:
    return GenerationJob if kind == GENERATE else TrainingRun


def take_for_sending(db: Database, item: Pending, stamped_at: datetime | None = None) -> bool:
    """Stamp ``item`` as sent, if nobody else did: with several app processes (several backend
    workers), exactly one of them sends each job. ``stamped_at``: re-send one stamped then."""
    table = _table(item.kind)
    stamp = table.dispatched_at.is_(None) if stamped_at is None else table.dispatched_at == stamped_at

    def run(session: Session) -> bool:
        return bool(session.execute(update(table).where(table.id == item.id, table.status == "queued", stamp)
                                    .values(dispatched_at=utcnow())).rowcount)

    return db.write(run)


def unmark(db: Database, item: Pending) -> None:
    """The send failed (broker down): leave it to be sent again."""
    table = _table(item.kind)
    db.write(lambda session: session.execute(update(table).where(table.id == item.id).values(dispatched_at=None)))


def waiting_since(db: Database, kind: str, older_than_s: float, limit: int = 200) -> list[tuple[Pending, datetime]]:
    """Queued items sent more than ``older_than_s`` ago and never claimed (with their stamp)."""
    table = _table(kind)
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with db.session() as session:
        rows = session.execute(select(table.id, table.dispatched_at).where(
            table.status == "queued", table.dispatched_at < cutoff).order_by(table.id).limit(limit)).all()
    return [(Pending(kind, row[0]), row[1]) for row in rows]


def expire_leases(db: Database, lease_s: float, data_dir: Path) -> tuple[int, int]:
    """Jobs and runs whose worker went silent for ``lease_s``: back to the queue, to be sent again.

    A job asked to cancel is cancelled instead; a run continues from its last uploaded
    checkpoint. Returns (jobs, runs) re-queued.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=lease_s)
    job_stale = and_(GenerationJob.status == "processing", GenerationJob.dispatched_at.is_not(None),
                     or_(GenerationJob.heartbeat_at < cutoff,
                         and_(GenerationJob.heartbeat_at.is_(None), GenerationJob.updated_at < cutoff)))
    run_stale = and_(TrainingRun.status == "running", TrainingRun.dispatched_at.is_not(None),
                     or_(TrainingRun.heartbeat_at < cutoff,
                         and_(TrainingRun.heartbeat_at.is_(None), TrainingRun.updated_at < cutoff)))

    def run(session: Session) -> tuple[int, int, list[tuple[int, str | None]]]:
        session.execute(update(GenerationJob).where(job_stale, GenerationJob.cancel_requested.is_(True))
                        .values(status="cancelled", finished_at=now, updated_at=now))
        jobs = session.execute(update(GenerationJob).where(job_stale).values(
            status="queued", progress=0.0, worker_name=None, dispatched_at=None, updated_at=now)).rowcount or 0
        stale_runs = session.execute(select(TrainingRun.id, TrainingRun.worker_host, TrainingRun.cancel_requested)
                                     .where(run_stale)).all()
        for run_id, _, cancel in stale_runs:
            values: dict[str, Any] = {"child_pid": None, "eta_seconds": None, "updated_at": now,
                                      "worker_host": None, "worker_pid": None}
            if cancel:
                values.update(status="cancelled", finished_at=now,
                              error="The worker running this run stopped answering; its last checkpoint is kept")
            else:
                values.update(status="queued", resume=True, dispatched_at=None)
            session.execute(update(TrainingRun).where(TrainingRun.id == run_id, run_stale).values(**values))
        return jobs, len(stale_runs), [(r[0], r[1]) for r in stale_runs]

    jobs, runs, notes = db.write(run)
    for run_id, worker in notes:
        append_log(data_dir, run_id, f"[app] worker {worker or '?'} stopped answering for {lease_s:.0f} s; the run "
                                     "goes back to the queue and continues from its last uploaded checkpoint")
    return jobs, runs


def record_heartbeat(db: Database, beat: schemas.WorkerHeartbeat) -> None:
    """Upsert the worker's row and renew the leases it says it holds."""
    now = utcnow()

    def run(session: Session) -> None:
        node = session.scalar(select(WorkerNode).where(WorkerNode.name == beat.name))
        if node is None:
            node = WorkerNode(name=beat.name, started_at=now)
            session.add(node)
        node.queues = ",".join(beat.queues)
        node.base_model, node.device = beat.base_model, beat.device
        node.model_status, node.error = beat.model_status, beat.error
        held = [f"job {j}" for j, _ in beat.jobs] + [f"run {r}" for r, _ in beat.runs]
        node.current = ", ".join(held)[:255] or None
        node.last_seen_at = now
        for job_id, attempt in beat.jobs:
            session.execute(update(GenerationJob).where(
                GenerationJob.id == job_id, GenerationJob.attempts == attempt, GenerationJob.status == "processing")
                .values(heartbeat_at=now))
        for run_id, attempt in beat.runs:
            session.execute(update(TrainingRun).where(
                TrainingRun.id == run_id, TrainingRun.attempts == attempt, TrainingRun.status == "running")
                .values(heartbeat_at=now))

    try:
        db.write(run)
    except IntegrityError:  # two processes under one name beat first at once: the row exists now
        db.write(run)


def live_workers(db: Database, lease_s: float) -> list[schemas.WorkerInfo]:
    """Workers heard of within two leases, most recently seen first."""
    now = utcnow()
    with db.session() as session:
        rows = session.scalars(select(WorkerNode).where(WorkerNode.last_seen_at >= now - timedelta(seconds=2 * lease_s))
                               .order_by(WorkerNode.last_seen_at.desc()).limit(200)).all()
        return [schemas.WorkerInfo(
            name=row.name, queues=[q for q in row.queues.split(",") if q], base_model=row.base_model,
            device=row.device, model_status=row.model_status, error=row.error, current=row.current,
            last_seen_s=round(max(0.0, (now - _aware(row.last_seen_at)).total_seconds()), 1),
        ) for row in rows]


def broker_model_status(base_model: str, workers: list[schemas.WorkerInfo]) -> schemas.ModelStatus:
    """The base model's status as the live generation workers report it."""
    generating = [w for w in workers if GENERATE in w.queues]
    matching = [w for w in generating if w.base_model == base_model]
    if any(w.model_status == "ready" for w in matching):
        ready = [w for w in matching if w.model_status == "ready"]
        devices = sorted({w.device or "?" for w in ready})
        return schemas.ModelStatus(base_model=base_model, status="ready", device=", ".join(devices))
    if any(w.model_status in ("loading", "not_loaded") for w in matching):
        return schemas.ModelStatus(base_model=base_model, status="loading")
    if matching:
        return schemas.ModelStatus(base_model=base_model, status="failed", error=matching[0].error)
    if generating:
        other = generating[0]
        return schemas.ModelStatus(
            base_model=base_model, status="failed",
            error=f"The connected generation worker {other.name} runs base model {other.base_model!r}, but this "
                  f"app uses {base_model!r}: start workers with TD_BASE_MODEL={base_model}")
    return schemas.ModelStatus(base_model=base_model, status="not_loaded",
                               error="No generation worker is connected: start one with "
                                     "python -m training_dashboard.worker --queues generate")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
