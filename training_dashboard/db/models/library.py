"""The prompt library (issue 20): each person's favourite prompts and the team's templates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from training_dashboard.db.models.common import utcnow


class PromptStats(SQLModel, table=True):
    """What the library shows, sorts and filters each prompt by: one narrow row per prompt, kept by
    triggers (migration 0012) in the transaction of every prompt, clip and rating insert, so a
    rating rewrites these few numbers, not the prompt's text and search vector. No foreign key,
    as a trigger removes the row with its prompt."""

    __tablename__ = "prompt_stats"
    __table_args__ = (
        Index("ix_prompt_stats_mean_rating", "mean_rating", "rating_count", "prompt_id"),
        Index("ix_prompt_stats_sample_count", "sample_count", "prompt_id"),
    )

    prompt_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sample_count: int = 0  # clips generated from it
    rating_count: int = 0
    rating_sum: int = 0
    mean_rating: float = 0.0  # 0 while unrated


class PromptFavourite(SQLModel, table=True):
    """A star: one row per (person, prompt). ``user_id`` 0 is the local admin of ``TD_AUTH=off``."""

    __tablename__ = "prompt_favourite"
    __table_args__ = (Index("ix_prompt_favourite_prompt", "prompt_id"),)

    user_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    prompt_id: int = Field(primary_key=True, foreign_key="prompt.id")
    created_at: datetime = Field(default_factory=utcnow)


class PromptTemplate(SQLModel, table=True):
    """A named, shared starting point for the editor: text (with ``{placeholders}``) and attributes."""

    __tablename__ = "prompt_template"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    name_key: str = Field(max_length=80, unique=True)  # the name case-folded: names are unique ignoring case
    text: str = Field(sa_column=Column(Text, nullable=False))
    style: str | None = Field(default=None, max_length=200)
    tempo: int | None = None
    instruments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    mood: str | None = Field(default=None, max_length=200)
    builtin: bool = False
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
