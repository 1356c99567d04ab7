"""A dataset's queued and running training runs, which a delete of the dataset must not orphan.

A run reads its dataset's export when it starts and again whenever it resumes (after a cancel,
a worker restart, or on another worker), so the export may go only once none of them is active.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlmodel import Session

from training_dashboard.db import Database
from training_dashboard.db.models import TrainingRun
from training_dashboard.services.errors import Conflict, NotFound
from training_dashboard.services.runs import cancel_run

# How long a delete with ``cancel_runs`` waits for its running runs to stop after their current step.
RUN_STOP_WAIT_S = 20.0
ACTIVE_RUN_STATUSES = ("queued", "running")


def active_runs(session: Session, dataset_id: int) -> list[tuple[int, str, bool]]:
    """(id, status, cancel requested) of the dataset's queued and running runs, oldest first."""
    return [(i, s, bool(c)) for i, s, c in session.execute(
        select(TrainingRun.id, TrainingRun.status, TrainingRun.cancel_requested)
        .where(TrainingRun.dataset_id == dataset_id, TrainingRun.status.in_(ACTIVE_RUN_STATUSES))
        .order_by(TrainingRun.id))]


def _runs_text(runs: list[tuple[int, str, bool]]) -> str:
    shown = [f"#{i} ({s}{', cancel requested' if c and s == 'running' else ''})" for i, s, c in runs[:10]]
    return ", ".join(shown) + (f" and {len(runs) - 10} more" if len(runs) > 10 else "")


def refuse_if_active_runs(session: Session, dataset_id: int) -> None:
    """Raise Conflict naming the dataset's queued and running runs, if it has any."""
    runs = active_runs(session, dataset_id)
    if runs:
        raise Conflict(f"Dataset {dataset_id} has active training runs: {_runs_text(runs)}; cancel them first "
                       "or delete with ?cancel_runs=true")


def stop_runs(db: Database, dataset_id: int, wait_s: float | None = None) -> None:
    """Cancel the dataset's queued and running runs and wait until none is active.

    Args:
        db: The database.
        dataset_id: The dataset.
        wait_s: How long to wait for running runs to stop (default ``RUN_STOP_WAIT_S``).

    Raises:
        Conflict: a cancelled run was still running after ``wait_s`` seconds.
    """
    wait_s = RUN_STOP_WAIT_S if wait_s is None else wait_s
    deadline, pause = time.monotonic() + wait_s, 0.05
    while True:
        with db.session() as session:
            runs = active_runs(session, dataset_id)
        if not runs:
            return
        for run_id, status, requested in runs:
            if status == "queued" or not requested:  # queued: cancelled at once; running: asked to stop
                try:
                    cancel_run(db, run_id)
                except (Conflict, NotFound):  # it finished or was deleted meanwhile
                    pass
        if time.monotonic() >= deadline:
            raise Conflict(f"Dataset {dataset_id}: cancel requested for training runs {_runs_text(runs)}; a run "
                           f"stops after its current step and had not stopped after {wait_s:.0f} s: delete the "
                           "dataset again once it has stopped")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
