"""Prompts, generation jobs, clips and the feedback on them (ratings, tags, preferences),
with the running counters and raters kept in step with every write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, SmallInteger, Text
from sqlmodel import Field, SQLModel

from training_dashboard.db.models.common import utcnow


class Prompt(SQLModel, table=True):
    # The prompt library's full-text index is the database's own (SQLite FTS5 table
    # ``prompt_fts``, PostgreSQL column ``search_vector``), kept in step by triggers that
    # migration 0012 creates; so is the prompt's ``prompt_stats`` row (db/models/library.py).
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    style: str | None = Field(default=None, max_length=200)
    tempo: int | None = None
    instruments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    mood: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class GenerationJob(SQLModel, table=True):
    __tablename__ = "generation_job"
    __table_args__ = (Index("ix_job_status_id", "status", "id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    adapter_id: int | None = Field(default=None, index=True)
    status: str = Field(default="queued", max_length=16)
    progress: float = 0.0
    error: str | None = Field(default=None, sa_column=Column(Text))
    num_samples: int = 1
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cancel_requested: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    # Scale-out (a Celery worker runs the job): when it was sent to the broker (None: not yet,
    # the dispatcher sends it), which claim is current (every worker call carries it), who holds
    # it and when it was last heard of (the lease), and the seed its clips start from (fixed at
    # the first claim, so a job delivered again produces the same clips).
    dispatched_at: datetime | None = None
    attempts: int = 0
    worker_name: str | None = Field(default=None, max_length=255)
    heartbeat_at: datetime | None = None
    seed_start: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class AudioSample(SQLModel, table=True):
    __tablename__ = "audio_sample"
    # The listening queue walks clips fewest ratings first, oldest first.
    __table_args__ = (
        Index("ix_audio_sample_rating_count_id", "rating_count", "id"),
        Index("ix_audio_sample_rater_count", "rater_count"),
        Index("ix_audio_sample_adapter_prompt", "adapter_id", "prompt_id"),  # the library's adapter filter
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="generation_job.id", index=True)
    adapter_id: int | None = Field(default=None, index=True)
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))
    duration: float
    sample_rate: int
    file_path: str = Field(max_length=1000)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    rating_count: int = 0
    rater_count: int = 0  # distinct named raters (rater_id) who rated it: agreement and min_raters use it
    created_at: datetime = Field(default_factory=utcnow)


class Rating(SQLModel, table=True):
    __table_args__ = (
        Index("ix_rating_rating_id", "rating", "id"),
        Index("ix_rating_adapter_rating", "adapter_id", "rating"),
        Index("ix_rating_adapter_id", "adapter_id", "id"),
        Index("ix_rating_created_at", "created_at"),
        Index("ix_rating_prompt_id", "prompt_id"),
        Index("ix_rating_audio_id", "audio_id"),
        Index("ix_rating_rater_audio", "rater_id", "audio_id"),
        Index("ix_rating_rater_created", "rater_id", "created_at"),
        # A dataset filter on an adapter and dates (and stars) reads one covering range; with the id
        # PostgreSQL answers it from the index alone too (issue 21).
        Index("ix_rating_adapter_created", "adapter_id", "created_at", "rating", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    audio_id: int = Field(foreign_key="audio_sample.id")
    prompt_id: int = Field(foreign_key="prompt.id")
    adapter_id: int | None = None
    rating: int = Field(sa_column=Column(SmallInteger, nullable=False))
    musicality: int | None = Field(default=None, sa_column=Column(SmallInteger))
    coherence: int | None = Field(default=None, sa_column=Column(SmallInteger))
    emotional_alignment: int | None = Field(default=None, sa_column=Column(SmallInteger))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(Text))
    rater: str | None = Field(default=None, max_length=100)
    rater_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # Listening (db/models/listening.py): time to the decision, the least share heard of the clip
    # (None: no listening data), and whether the rating was imported (exempt from the listen gate).
    decision_ms: int | None = None
    heard_fraction: float | None = None
    imported: bool = False


class RatingTag(SQLModel, table=True):
    """One row per (rating, tag): what the tag filters use."""

    __tablename__ = "rating_tag"
    __table_args__ = (Index("ix_rating_tag_rating_id", "rating_id"),)

    tag: str = Field(primary_key=True, max_length=64)
    rating_id: int = Field(primary_key=True, foreign_key="rating.id")


class Preference(SQLModel, table=True):
    __table_args__ = (
        Index("ix_preference_created_at", "created_at"),
        Index("ix_preference_adapters", "chosen_adapter_id", "rejected_adapter_id", "tie"),
        Index("ix_preference_rejected_adapter", "rejected_adapter_id", "chosen_adapter_id", "tie"),
        Index("ix_preference_chosen", "chosen_id"),
        Index("ix_preference_rejected", "rejected_id"),
        Index("ix_preference_rater_prompt", "rater_id", "prompt_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    chosen_id: int = Field(foreign_key="audio_sample.id")
    rejected_id: int = Field(foreign_key="audio_sample.id")
    chosen_adapter_id: int | None = None
    rejected_adapter_id: int | None = None
    tie: bool = False
    rater: str | None = Field(default=None, max_length=100)
    rater_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    evaluation_id: int | None = Field(default=None, index=True)  # a blind evaluation vote, not a studio choice
    decision_ms: int | None = None
    heard_fraction: float | None = None  # the least share heard of its two clips (None: no listening data)
    reason: str | None = Field(default=None, sa_column=Column(Text))  # why, in the listener's words


class Counter(SQLModel, table=True):
    """Running aggregates kept current as feedback arrives (stats without full scans)."""

    name: str = Field(primary_key=True, max_length=100)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class Rater(SQLModel, table=True):
    """A person who listens and rates; ratings and preferences point at one by ``rater_id``.

    ``rater_id`` on feedback is a plain indexed integer, like adapter ids: adding it to a
    million existing ratings is one ``ADD COLUMN``, and old feedback keeps ``NULL``.
    """

    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    # Running totals kept in the same transaction as each rating / preference.
    rating_count: int = 0
    rating_sum: int = 0
    preference_count: int = 0
    clip_count: int = 0  # distinct clips rated: clips not rated by the rater = all clips - this
    # Agreement and consistency, kept incrementally (services/agreement.py): clips shared with
    # another rater, pairs of (own, other's) first ratings on them and the sum of |differences|,
    # preferences checkable against own ratings, those contradicting them, and 3-cycles.
    shared_clips: int = 0
    pair_count: int = 0
    pair_distance: int = 0
    prefs_checked: int = 0
    contradictions: int = 0
    triads: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class CoverageCount(SQLModel, table=True):
    """Ratings per (bucket, star): coverage of style, mood, tag and adapter without a scan.

    ``kind`` is "style", "mood", "tag" or "adapter"; ``value`` the bucket (lower-cased for
    style and mood, an adapter key for adapters). Kept in the rating's own transaction.
    """

    __tablename__ = "coverage_count"

    kind: str = Field(primary_key=True, max_length=16)
    value: str = Field(primary_key=True, max_length=200)
    rating: int = Field(primary_key=True)
    count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class CoincidenceCount(SQLModel, table=True):
    """Krippendorff coincidence numerators per clip size: for clips with ``m`` raters,
    the sum over clips of n_c * (n_k - [c == k]) for stars c, k (and, at c = k = 0, how many
    such clips). Alpha is computed from these few rows; kept in each rating's transaction."""

    __tablename__ = "coincidence_count"

    m: int = Field(primary_key=True)
    c: int = Field(primary_key=True)
    k: int = Field(primary_key=True)
    count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
