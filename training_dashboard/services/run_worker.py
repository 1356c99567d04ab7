"""The worker's side of training runs: claim a queued run, report the child's progress (which
also says whether the user asked to cancel), and finish it; a finished run's adapter is
registered and linked to the run in one transaction, so it is never registered twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, Dataset, TrainingRun, utcnow
from training_dashboard.services.adapters import confine_path, read_adapter_config
from training_dashboard.services.errors import BadRequest, NotFound
from training_dashboard.services.run_metrics import finite_or_none, store_metrics, trim_metrics
from training_dashboard.services.runs import run_config


@dataclass(frozen=True)
class ClaimedRun:
    """What an executor needs to start (or continue) a run, detached from any session."""

    id: int
    name: str
    task: str
    export_path: str
    output_dir: str
    resume: bool
    attempts: int
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunningRun:
    id: int
    worker_host: str | None
    worker_pid: int | None
    child_pid: int | None
    heartbeat_age_s: float | None


def claim_next_run(db: Database, host: str, pid: int) -> ClaimedRun | None:
    """Atomically move the oldest queued run to ``running`` for this worker and return it."""
    with db.session() as session:  # the idle poll stays a read: no write transaction, no writer-lock turn
        if session.scalar(select(TrainingRun.id).where(TrainingRun.status == "queued").limit(1)) is None:
            return None

    def run(session: Session) -> ClaimedRun | None:
        while True:
            run_id = session.scalar(select(TrainingRun.id).where(TrainingRun.status == "queued")
                                    .order_by(TrainingRun.id).limit(1))
            if run_id is None:
                return None
            now = utcnow()
            claimed = session.execute(
                update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.status == "queued")
                .values(status="running", attempts=TrainingRun.attempts + 1, worker_host=host, worker_pid=pid,
                        child_pid=None, heartbeat_at=now, updated_at=now, eta_seconds=None)
            ).rowcount
            if claimed:
                break
        row = session.get(TrainingRun, run_id)
        assert row is not None
        if row.started_at is None:
            row.started_at = utcnow()
        return ClaimedRun(id=row.id or 0, name=row.name, task=row.task, export_path=row.export_path,
                          output_dir=row.output_dir, resume=row.resume, attempts=row.attempts,
                          config=run_config(row))

    return db.write(run)


def start_attempt(db: Database, run_id: int, total_steps: int, resumed_step: int | None, child_pid: int = 0) -> None:
    """A new attempt: a resumed one forgets metrics logged after its checkpoint, a fresh one all of them."""

    def run(session: Session) -> None:
        row = session.get(TrainingRun, run_id)
        if row is None:
            raise NotFound(f"Run {run_id} not found")
        row.total_steps, row.child_pid, row.resume = total_steps, child_pid or None, True
        trim_metrics(session, row, resumed_step if resumed_step is not None else -1)
        row.heartbeat_at = row.updated_at = utcnow()

    db.write(run)


def set_child(db: Database, run_id: int, child_pid: int) -> None:
    def run(session: Session) -> None:
        session.execute(update(TrainingRun).where(TrainingRun.id == run_id)
                        .values(child_pid=child_pid, heartbeat_at=utcnow()))

    db.write(run)


def report_progress(db: Database, run_id: int, records: list[dict[str, Any]]) -> bool:
    """Store new metric records and beat the heartbeat. Returns True when the user asked to cancel."""

    def run(session: Session) -> bool:
        row = session.get(TrainingRun, run_id)
        if row is None:  # deleted under us: stop
            return True
        store_metrics(session, row, records)
        row.heartbeat_at = utcnow()
        return row.cancel_requested

    return db.write(run)


def finish_run(db: Database, run_id: int, status: str, error: str | None = None) -> None:
    """End an attempt: ``failed`` or ``cancelled`` (resumable), or back to ``queued`` to continue later."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "error": error[:8000] if error else None, "child_pid": None,
                              "eta_seconds": None, "updated_at": now}
    if status == "queued":
        values.update(resume=True, worker_host=None, worker_pid=None, dispatched_at=None)
    else:
        values["finished_at"] = now

    def run(session: Session) -> None:
        session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(**values))

    db.write(run)


def _free_version(session: Session, name: str) -> str:
    taken = set(session.scalars(select(Adapter.version).where(Adapter.name == name)))
    patch = 0
    while f"1.0.{patch}" in taken:
        patch += 1
    return f"1.0.{patch}"


def complete_run(db: Database, run_id: int, roots: list[Path]) -> int:
    """Register the finished run's adapter (inactive, run id in its provenance) and link it.

    Idempotent: a run that already links an adapter keeps it. Returns the adapter id.

    Raises:
        BadRequest: the run directory holds no finished, usable adapter.
    """
    with db.session() as session:
        row = session.get(TrainingRun, run_id)
        if row is None:
            raise NotFound(f"Run {run_id} not found")
        if row.adapter_id is not None:
            return row.adapter_id
    path = confine_path(row.output_dir, roots)
    try:
        report = json.loads((path / "training_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadRequest(f"The run finished without a readable training_report.json in {path}: {exc}") from exc
    config = read_adapter_config(path)  # refuses a missing or no-op adapter
    summary = {k: report.get(k) for k in ("task", "best_eval_loss", "initial_eval_loss", "final_train_loss",
                                          "steps", "stopped_early", "wall_time_s", "examples_train",
                                          "examples_heldout", "dataset_name")}

    def run(session: Session) -> int:
        current = session.get(TrainingRun, run_id)
        if current is None:
            raise NotFound(f"Run {run_id} not found")
        if current.adapter_id is not None:
            return current.adapter_id
        dataset_id = current.dataset_id if session.get(Dataset, current.dataset_id) is not None else None
        adapter = Adapter(
            name=current.name, version=_free_version(session, current.name),
            description=f"{current.task.upper()} LoRA on dataset '{current.dataset_name}' (run {run_id})",
            base_model=report.get("base_model") or config.get("base_model_name_or_path") or "",
            path=str(path), dataset_id=dataset_id, manifest_sha256=report.get("manifest_sha256"),
            training_config=report.get("hyperparameters") or {}, report={**summary, "run_id": run_id},
            is_active=False, created_by=current.created_by)  # who launched the run
        session.add(adapter)
        session.flush()
        now = utcnow()
        current.adapter_id, current.status, current.progress = adapter.id, "completed", 1.0
        current.step = int(report.get("steps") or current.step)
        current.best_eval_loss = finite_or_none(report.get("best_eval_loss"))
        current.error, current.child_pid, current.eta_seconds = None, None, None
        current.finished_at = current.updated_at = now
        return adapter.id or 0

    return db.write(run)


def running_runs(db: Database) -> list[RunningRun]:
    """Runs marked running, with who runs them and how long ago they were last heard of."""
    now = utcnow()
    with db.session() as session:
        rows = session.execute(select(TrainingRun.id, TrainingRun.worker_host, TrainingRun.worker_pid,
                                      TrainingRun.child_pid, TrainingRun.heartbeat_at)
                               .where(TrainingRun.status == "running")).all()
    out = []
    for run_id, host, pid, child, beat in rows:
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=now.tzinfo)
        age = (now - beat) / timedelta(seconds=1) if beat is not None else None
        out.append(RunningRun(id=run_id, worker_host=host, worker_pid=pid, child_pid=child, heartbeat_age_s=age))
    return out


def cancel_requested(db: Database, run_id: int) -> bool:
    with db.session() as session:
        return bool(session.scalar(select(TrainingRun.cancel_requested).where(TrainingRun.id == run_id)))
