"""Service health: the database, the model and the workers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from training_dashboard.schemas.common import Model
from training_dashboard.schemas.workers import WorkerInfo


class ModelStatus(Model):
    base_model: str
    status: Literal["not_loaded", "loading", "ready", "failed"]
    device: str | None = None
    error: str | None = None


class Health(Model):
    status: Literal["ok", "degraded"]
    version: str
    database: bool
    model: ModelStatus
    worker: bool
    mode: Literal["embedded", "broker"] = "embedded"  # broker: Celery workers generate and train (TD_BROKER_URL)
    workers: list[WorkerInfo] = Field(default_factory=list)
