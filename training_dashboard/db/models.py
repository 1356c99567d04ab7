"""SQLModel tables. Every column that a filter or a list uses carries an index.

Adapter references on samples, ratings and preferences are plain indexed integers (no
foreign key): deleting an adapter from the registry must never delete or rewrite feedback.

Every table with an integer id sets ``sqlite_autoincrement=True``: SQLite would otherwise
hand the id of a deleted newest row to the next insert, and an id (an export directory, a
bookmarked link, an adapter's provenance, the feedback of a deleted adapter) must never
name two different things over time. PostgreSQL sequences never reuse ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, SmallInteger, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC timestamp (SQLModel stores UTC on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC)


class Prompt(SQLModel, table=True):
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
class Evaluation(SQLModel, table=True):
    """A blind comparison of a candidate adapter with a baseline (the base model or an adapter).

    Vote tallies are kept on the row in each vote's transaction; the result columns are frozen
    when the evaluation completes (votes stop then), so reading verdicts never counts votes.
    ``candidate_id`` / ``baseline_id`` are plain integers like every adapter reference.
    """

    __table_args__ = (
        Index("ix_evaluation_candidate", "candidate_id", "baseline_id", "status", "id"),
        Index("ix_evaluation_baseline", "baseline_id"),
        Index("ix_evaluation_status", "status", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int
    baseline_id: int | None = None  # None: the base model
    status: str = Field(default="generating", max_length=16)
    pairs_total: int
    pairs_ready: int = 0
    pairs_failed: int = 0
    votes_per_pair: int = 1
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    votes: int = 0
    candidate_wins: int = 0
    baseline_wins: int = 0
    ties: int = 0
    first_wins: int = 0  # non-tie votes for the clip played first
    verdict: str | None = Field(default=None, max_length=16)
    win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class EvaluationPair(SQLModel, table=True):
    """One held-out prompt generated by both sides with the same seed and parameters."""

    __tablename__ = "evaluation_pair"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "position"),
        Index("ix_evaluation_pair_ready", "evaluation_id", "ready"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id")
    position: int
    prompt_id: int = Field(foreign_key="prompt.id")
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))
    candidate_job_id: int = Field(foreign_key="generation_job.id", index=True)
    baseline_job_id: int = Field(foreign_key="generation_job.id", index=True)
    candidate_audio_id: int | None = Field(default=None, foreign_key="audio_sample.id")
    baseline_audio_id: int | None = Field(default=None, foreign_key="audio_sample.id")
    ready: bool = False
    votes: int = 0


class EvaluationVote(SQLModel, table=True):
    """A rater's view of one pair: which side was played first (recorded when the pair is
    served) and, once given, the vote. One row per pair and rater."""

    __tablename__ = "evaluation_vote"
    __table_args__ = (
        UniqueConstraint("pair_id", "rater_id"),
        Index("ix_evaluation_vote_rater", "evaluation_id", "rater_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id")
    pair_id: int = Field(foreign_key="evaluation_pair.id")
    rater_id: int = Field(foreign_key="rater.id")
    candidate_first: bool
    choice: str | None = Field(default=None, max_length=8)  # first | second | tie
    winner: str | None = Field(default=None, max_length=16)  # candidate | baseline | tie
    preference_id: int | None = None
    served_at: datetime = Field(default_factory=utcnow)
    voted_at: datetime | None = None


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
