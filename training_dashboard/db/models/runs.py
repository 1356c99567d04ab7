"""Training runs and their metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from training_dashboard.db.models.common import utcnow


class TrainingRun(SQLModel, table=True):
    """A training run launched from the dashboard, executed by a worker as a CLI child process.

    ``dataset_id`` is a plain indexed integer (no foreign key), like the adapter references
    above: deleting a dataset must never fail on, or rewrite, the history of its runs.
    """

    __tablename__ = "training_run"
    __table_args__ = (Index("ix_training_run_status_id", "status", "id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    dataset_id: int = Field(index=True)
    dataset_name: str = Field(max_length=100)
    task: str = Field(max_length=8)
    status: str = Field(default="queued", max_length=16)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    export_path: str = Field(max_length=1000)
    output_dir: str = Field(max_length=1000)
    command: str = Field(sa_column=Column(Text, nullable=False))
    progress: float = 0.0
    step: int = 0
    total_steps: int = 0
    best_eval_loss: float | None = None
    eta_seconds: float | None = None
    adapter_id: int | None = Field(default=None, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text))
    cancel_requested: bool = False
    resume: bool = False  # the next start continues from the last checkpoint
    attempts: int = 0
    worker_host: str | None = Field(default=None, max_length=255)
    worker_pid: int | None = None
    child_pid: int | None = None
    heartbeat_at: datetime | None = None
    dispatched_at: datetime | None = None  # scale-out: sent to the broker (None: the dispatcher sends it)
    checkpoint_step: int | None = None  # scale-out: the step of the last checkpoint a worker uploaded
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = None  # the user who launched it


class TrainingRunMetric(SQLModel, table=True):
    """A run's metrics in blocks of consecutive steps: ``data`` is a float64 array of shape
    (n, 8) — step, loss, eval_loss, learning_rate, grad_norm, reward_margin, reward_accuracy,
    time (NaN where a step has no value). A 20,000-step curve is then ~40 rows read with one
    ``numpy.frombuffer`` each instead of 20,000 Python tuples."""

    __tablename__ = "training_run_metric"

    run_id: int = Field(primary_key=True, foreign_key="training_run.id")
    chunk: int = Field(primary_key=True)
    last_step: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
