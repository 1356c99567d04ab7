"""Frozen datasets, their exports, and the adapter registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from training_dashboard.db.models.common import utcnow


class Dataset(SQLModel, table=True):
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    description: str | None = Field(default=None, sa_column=Column(Text))
    type: str = Field(max_length=16)
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sample_count: int = 0
    # Computed once at snapshot time: the membership is frozen, so these never go stale.
    stats: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = None  # user ids (plain integers, like every reference the history keeps)


class DatasetMember(SQLModel, table=True):
    """The frozen membership of a dataset: rating ids (supervised) or preference ids."""

    __tablename__ = "dataset_member"

    dataset_id: int = Field(primary_key=True, foreign_key="dataset.id")
    item_id: int = Field(primary_key=True)


class DatasetExport(SQLModel, table=True):
    __tablename__ = "dataset_export"
    __table_args__ = (UniqueConstraint("dataset_id", "format"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    format: str = Field(max_length=16)
    path: str = Field(max_length=1000)
    manifest_sha256: str = Field(max_length=64)
    sample_count: int
    created_at: datetime = Field(default_factory=utcnow)


class Adapter(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("name", "version"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    version: str = Field(max_length=64)
    description: str | None = Field(default=None, sa_column=Column(Text))
    base_model: str = Field(max_length=500)
    path: str = Field(max_length=1000)
    dataset_id: int | None = Field(default=None, foreign_key="dataset.id", index=True)
    manifest_sha256: str | None = Field(default=None, max_length=64)
    training_config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    is_active: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Set when activation overrode the evaluation gate (TD_REQUIRE_EVALUATION): who decided it and why.
    forced_activation_reason: str | None = Field(default=None, sa_column=Column(Text))
    forced_activation_at: datetime | None = None
    created_by: int | None = None
    activated_by: int | None = None
    forced_by: int | None = None
