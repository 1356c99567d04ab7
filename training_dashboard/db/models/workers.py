"""Worker machines (scale-out) and the listening queue's leases and kept counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from training_dashboard.db.models.common import utcnow


class WorkerNode(SQLModel, table=True):
    """A Celery worker process as it last reported itself (scale-out; ``/api/worker/heartbeat``)."""

    __tablename__ = "worker_node"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True)
    queues: str = Field(default="", max_length=255)
    base_model: str = Field(default="", max_length=1000)
    device: str | None = Field(default=None, max_length=64)
    model_status: str = Field(default="not_loaded", max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text))
    current: str | None = Field(default=None, max_length=255)
    started_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class QueueLease(SQLModel, table=True):
    """The clip the listening queue last served a rater, reserved for them until ``expires_at``.

    One row per rater at most (serving a clip replaces the rater's lease), so the table never
    outgrows the raters; rating the clip ends the lease, and expired rows are deleted by the
    next serve. Plain integers, like every reference from feedback: a lease never blocks a delete.
    """

    __tablename__ = "queue_lease"
    __table_args__ = (Index("ix_queue_lease_audio", "audio_id", "expires_at"),
                      Index("ix_queue_lease_expires", "expires_at"))

    rater_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    audio_id: int
    expires_at: datetime


class QueueRated(SQLModel, table=True):
    """How many clips a rater has rated that now have ``rating_count`` ratings (counts below
    100, the largest ``TD_RATINGS_PER_CLIP``): the queue summary's "rated by me and still
    under the target" is a sum over a few rows instead of a probe per open clip. Kept in
    each rating's transaction (services/queue.note_clip_rated)."""

    __tablename__ = "queue_rated"

    rater_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    rating_count: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    clips: int = 0
