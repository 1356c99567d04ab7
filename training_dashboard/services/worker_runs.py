"""Training runs executed by Celery workers (scale-out): the app's side of the worker API.

A worker claims a queued run (a lease: ``attempts += 1``, the new value is the attempt every
later call carries), downloads the dataset export and the last uploaded checkpoint, runs the
training CLI on its own disk and reports through these functions: metrics and log text
(``progress``, which renews the lease and says whether the user asked to cancel), each new
checkpoint (stored under the app's data dir, only the newest kept), the finished run directory
(unpacked into the run's ``output_dir``, adapter registered once) or how the attempt ended.
A call from an attempt that no longer holds the run is refused with 409 (the worker drops it).
Every archive a worker sends is checked like user input (:mod:`files.archives`).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.models import TrainingRun, utcnow
from training_dashboard.files.archives import UnsafeArchive, extract
from training_dashboard.services import run_worker
from training_dashboard.services.adapters import confine_path
from training_dashboard.services.errors import BadRequest, Conflict, NotFound, ServiceError
from training_dashboard.services.run_metrics import TERMINAL, log_path, store_metrics, trim_metrics
from training_dashboard.services.runs import run_config
from training_dashboard.training.layout import STATE_FILE, planned_steps

MAX_RECORDS = 10_000
MAX_RECORD_KEYS = 20
MAX_STEP = 10**9
CHECKPOINT_TOP = {"train_config.json", "metrics.jsonl", "checkpoints", "best"}


class Gone(ServiceError):
    status_code = 410


def run_dir(settings: Settings, run_id: int) -> Path:
    """The app's own files for run ``run_id`` in broker mode (uploaded checkpoints, upload spools)."""
    return settings.resolved_data_dir / "runs" / f"run-{run_id}"


def checkpoint_file(settings: Settings, run_id: int, step: int) -> Path:
    return run_dir(settings, run_id) / f"checkpoint-{step}.tar"


def _get(session: Session, run_id: int, lock: bool = False) -> TrainingRun:
    # lock: two workers handed the same run (a duplicate delivery) must not both claim it on PostgreSQL.
    row = session.get(TrainingRun, run_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"Run {run_id} not found")
    return row


def _leased(session: Session, run_id: int, attempt: int) -> TrainingRun:
    """The run if ``attempt`` still holds it (running, current attempt); renews the lease. Else 409."""
    row = _get(session, run_id, lock=True)
    if row.status != "running" or row.attempts != attempt:
        raise Conflict(f"Attempt {attempt} no longer holds run {run_id} (it is {row.status}, attempt "
                       f"{row.attempts}): drop it")
    row.heartbeat_at = utcnow()
    return row


def _export_info(export_path: str) -> dict[str, Any] | None:
    try:
        info = json.loads((Path(export_path) / "td_export.json").read_text(encoding="utf-8"))
        int(info["sample_count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


def _note(settings: Settings, run_id: int, text: str) -> None:
    append_text(settings, run_id, f"[worker] {text}\n")


def append_text(settings: Settings, run_id: int, text: str) -> None:
    """Append log text exactly as sent (whole lines from the worker)."""
    if not text:
        return
    path = log_path(settings.resolved_data_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", errors="replace") as fh:
        fh.write(text)


def claim(db: Database, settings: Settings, run_id: int, worker: str) -> schemas.WorkerRunClaim:
    """Lease a queued run to ``worker``: queued -> running, ``attempts += 1``.

    Raises:
        NotFound: no such run.
        Conflict: the run is finished, or already running (a duplicate delivery).
        Gone: its dataset export is gone; the run is failed with a message saying so.
    """
    worker = worker or "worker"

    def run(session: Session) -> schemas.WorkerRunClaim | str:
        row = _get(session, run_id, lock=True)
        if row.status in TERMINAL:
            raise Conflict(f"Run {run_id} is already {row.status}")
        if row.status == "running":
            raise Conflict(f"Run {run_id} is already running (attempt {row.attempts} on {row.worker_host})")
        now = utcnow()
        info = _export_info(row.export_path)
        if info is None:
            message = (f"The dataset export {row.export_path} is missing or unreadable (was the dataset deleted?). "
                       "Start a new run from the dataset.")
            row.status, row.error, row.finished_at, row.updated_at = "failed", message, now, now
            row.dispatched_at = None
            return message
        config = run_config(row)
        sample_count = int(info["sample_count"])
        total = planned_steps(sample_count, config)
        checkpoint = row.checkpoint_step if row.resume else None
        if checkpoint is not None and not checkpoint_file(settings, run_id, checkpoint).is_file():
            checkpoint = None
        if checkpoint is None:
            row.checkpoint_step = None
        row.status, row.attempts, row.worker_host, row.worker_pid = "running", row.attempts + 1, worker[:255], None
        row.child_pid, row.eta_seconds, row.heartbeat_at, row.updated_at = None, None, now, now
        row.started_at = row.started_at or now
        row.total_steps, row.resume = total, True
        trim_metrics(session, row, checkpoint if checkpoint is not None else -1)
        return schemas.WorkerRunClaim(attempt=row.attempts, run_id=run_id, name=row.name, task=row.task,
                                      config=config, base_model=settings.base_model, sample_count=sample_count,
                                      total_steps=total, checkpoint_step=checkpoint)

    result = db.write(run)
    if isinstance(result, str):
        _note(settings, run_id, f"failed: {result}")
        raise Gone(result)
    if result.checkpoint_step is None:
        shutil.rmtree(run_dir(settings, run_id), ignore_errors=True)  # checkpoints of an earlier, unresumed start
    _note(settings, run_id, f"attempt {result.attempt} claimed by {worker}")
    return result


def export_dir(db: Database, run_id: int) -> Path:
    """The run's dataset export directory (to send as a tar).

    Raises:
        NotFound: no such run.
        Gone: the export is gone.
    """
    with db.session() as session:
        row = _get(session, run_id)
        path = row.export_path
    if _export_info(path) is None:
        raise Gone(f"The dataset export {path} of run {run_id} is gone (was the dataset deleted?). "
                   "Start a new run from the dataset.")
    return Path(path)


def stored_checkpoint(db: Database, settings: Settings, run_id: int) -> tuple[int, Path]:
    """(step, tar) of the run's last uploaded checkpoint. Raises NotFound when there is none."""
    with db.session() as session:
        step = _get(session, run_id).checkpoint_step
    path = checkpoint_file(settings, run_id, step) if step is not None else None
    if path is None or not path.is_file():
        raise NotFound(f"Run {run_id} has no uploaded checkpoint")
    return step or 0, path


def spool_path(settings: Settings, run_id: int) -> Path:
    """A fresh scratch file for an upload of run ``run_id`` (the caller removes it)."""
    folder = run_dir(settings, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".upload-{uuid.uuid4().hex}"


def check_lease(db: Database, run_id: int, attempt: int) -> None:
    """Refuse (404/409) before reading an upload from an attempt that does not hold the run."""
    db.write(lambda session: _leased(session, run_id, attempt))


def _scratch(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")


def _check_checkpoint(archive: Path, step: int, max_bytes: int) -> None:
    scratch = _scratch(archive)
    try:
        with archive.open("rb") as fh:
            files = extract(fh, scratch, max_bytes)
        tops = {name.split("/", 1)[0] for name in files}
        if not tops <= CHECKPOINT_TOP:
            raise BadRequest(f"A checkpoint archive holds only {', '.join(sorted(CHECKPOINT_TOP))}; got "
                             f"{', '.join(sorted(tops - CHECKPOINT_TOP))}")
        if f"checkpoints/step-{step:06d}/{STATE_FILE}" not in files or "train_config.json" not in files:
            raise BadRequest(f"The checkpoint archive has no checkpoints/step-{step:06d}/{STATE_FILE} "
                             "and train_config.json")
    except UnsafeArchive as exc:
        raise BadRequest(f"Bad checkpoint archive: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def store_checkpoint(db: Database, settings: Settings, run_id: int, attempt: int, step: int, upload: Path) -> int:
    """Keep ``upload`` (a checked tar) as the run's checkpoint at ``step``; only the newest is kept.

    An older or equal step than the stored one is accepted and ignored (a re-sent upload).
    Returns the run's checkpoint step.
    """
    if not 1 <= step <= MAX_STEP:
        raise BadRequest(f"step must be between 1 and {MAX_STEP}")

    def current(session: Session) -> tuple[int | None, int]:
        row = _leased(session, run_id, attempt)
        return row.checkpoint_step, row.total_steps

    known, total = db.write(current)
    if total and step > total:
        raise BadRequest(f"step {step} is past the run's {total} planned steps")
    if known is not None and step <= known:
        return known
    _check_checkpoint(upload, step, settings.max_upload_bytes)
    dest = checkpoint_file(settings, run_id, step)
    os.replace(upload, dest)

    def record(session: Session) -> int:
        row = _leased(session, run_id, attempt)
        if row.checkpoint_step is None or step > row.checkpoint_step:
            row.checkpoint_step = step
        return row.checkpoint_step

    try:
        kept = db.write(record)
    except ServiceError:
        dest.unlink(missing_ok=True)
        raise
    for old in run_dir(settings, run_id).glob("checkpoint-*.tar"):
        if old != checkpoint_file(settings, run_id, kept):
            old.unlink(missing_ok=True)
    return kept


def _check_records(records: list[dict[str, Any]]) -> None:
    for i, record in enumerate(records):
        step = record.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= MAX_STEP:
            raise BadRequest(f"records[{i}].step must be an integer between 0 and {MAX_STEP}")
        if len(record) > MAX_RECORD_KEYS:
            raise BadRequest(f"records[{i}] has more than {MAX_RECORD_KEYS} fields")
        for key, value in record.items():
            if len(key) > 40:
                raise BadRequest(f"records[{i}] has a field name longer than 40 characters")
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise BadRequest(f"records[{i}].{key[:40]} must be a number or null")


def progress(db: Database, settings: Settings, run_id: int, body: schemas.WorkerRunProgress) -> bool:
    """Store new metric records and log text of the attempt, renew its lease. Returns the cancel flag."""
    _check_records(body.records)

    def run(session: Session) -> bool:
        row = _leased(session, run_id, body.attempt)
        store_metrics(session, row, body.records)
        return row.cancel_requested

    cancel = db.write(run)
    append_text(settings, run_id, body.log)
    return cancel


def store_result(db: Database, settings: Settings, run_id: int, attempt: int, upload: Path) -> int:
    """Unpack the finished run directory into the run's ``output_dir`` and register its adapter once.

    Idempotent: a second upload by the attempt that completed the run returns the same adapter id.
    """
    with db.session() as session:
        row = _get(session, run_id)
        if row.status == "completed" and row.attempts == attempt and row.adapter_id is not None:
            return row.adapter_id
    db.write(lambda session: _leased(session, run_id, attempt))
    target = Path(row.output_dir)
    out = confine_path(str(target.parent), settings.resolved_adapter_roots) / target.name
    scratch = _scratch(out)
    try:
        try:
            with upload.open("rb") as fh:
                files = extract(fh, scratch, settings.max_upload_bytes)
        except UnsafeArchive as exc:
            raise BadRequest(f"Bad result archive: {exc}") from exc
        if any(name.split("/", 1)[0] == "checkpoints" for name in files):
            raise BadRequest("The result archive must not hold checkpoints/")
        if "training_report.json" not in files:
            raise BadRequest("The result archive has no training_report.json: training did not finish")
        db.write(lambda session: _leased(session, run_id, attempt))
        if out.exists():
            shutil.rmtree(out)
        scratch.rename(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    adapter_id = run_worker.complete_run(db, run_id, settings.resolved_adapter_roots)
    _note(settings, run_id, f"completed; registered adapter {adapter_id} (inactive: activate it on the Adapters tab)")
    for old in run_dir(settings, run_id).glob("checkpoint-*.tar"):
        old.unlink(missing_ok=True)
    return adapter_id


def finish(db: Database, settings: Settings, run_id: int, body: schemas.WorkerRunFinish) -> None:
    """End the attempt: ``failed`` / ``cancelled`` (resumable from the stored checkpoint), or ``queued``:
    handed back (the worker is stopping), sent again by the dispatcher and continued from the checkpoint."""
    now = utcnow()
    values: dict[str, Any] = {"status": body.status, "error": body.error[:8000] if body.error else None,
                              "child_pid": None, "eta_seconds": None, "updated_at": now, "dispatched_at": None}
    if body.status == "queued":
        values.update(resume=True, worker_host=None, worker_pid=None, error=None)
    else:
        values["finished_at"] = now

    def run(session: Session) -> None:
        _leased(session, run_id, body.attempt)
        session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(**values))

    db.write(run)
