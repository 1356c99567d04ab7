"""The Celery tasks: each takes an id and hands it to its executor with this process's context.

A task returns normally in every outcome the app has been told about (done, failed, cancelled,
handed back to the queue), so its message is acknowledged; only a worker that dies mid-task
leaves its message unacknowledged, to be delivered again.
"""

from __future__ import annotations

from celery import Celery

from training_dashboard.worker.celery_app import GENERATE_TASK, TRAIN_TASK
from training_dashboard.worker.context import get_context


def register(app: Celery) -> None:
    """Define ``td.generate`` and ``td.train`` on ``app``."""

    @app.task(name=GENERATE_TASK, ignore_result=True)
    def generate(job_id: int) -> None:
        from training_dashboard.worker.generation import execute_job

        execute_job(get_context(), int(job_id))

    @app.task(name=TRAIN_TASK, ignore_result=True)
    def train(run_id: int) -> None:
        from training_dashboard.worker.training import execute_run

        execute_run(get_context(), int(run_id))
