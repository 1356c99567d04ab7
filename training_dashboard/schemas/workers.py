"""Scale-out: the worker endpoints for training runs and generation jobs, and the worker registry."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from training_dashboard.schemas.common import MAX_ID, CleanStr, Model
from training_dashboard.schemas.generation import JobStatus

# Training runs on workers (/api/worker/runs/*).


class WorkerRunClaimRequest(Model):
    """``POST /api/worker/runs/{id}/claim`` takes an empty object."""


class WorkerRunClaim(Model):
    """A claimed run: everything a worker needs to start or continue it."""

    attempt: int
    run_id: int
    name: str
    task: str
    config: dict[str, Any]
    base_model: str
    sample_count: int
    total_steps: int
    checkpoint_step: int | None = None


class WorkerRunProgress(Model):
    """New metric records (as in metrics.jsonl) and new log text (whole lines) of an attempt."""

    attempt: int = Field(ge=1, le=MAX_ID)
    records: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)
    log: str = Field(default="", max_length=1_048_576)


class WorkerRunCancel(Model):
    cancel: bool


class WorkerRunCheckpoint(Model):
    checkpoint_step: int


class WorkerRunResult(Model):
    adapter_id: int


class WorkerRunFinish(Model):
    """How an attempt ended: failed / cancelled, or queued (handed back: continue elsewhere)."""

    attempt: int = Field(ge=1, le=MAX_ID)
    status: Literal["failed", "cancelled", "queued"]
    error: str | None = Field(default=None, max_length=20_000)


class WorkerRunFinished(Model):
    ok: bool = True


# The worker registry.

WorkerModelStatus = Literal["not_loaded", "loading", "ready", "failed"]


class WorkerHeartbeat(Model):
    """What a worker process reports every few seconds; ``jobs``/``runs`` are [id, attempt] leases it holds."""

    name: str = Field(min_length=1, max_length=255)
    queues: list[Literal["generate", "train"]] = Field(min_length=1, max_length=2)
    base_model: str = Field(max_length=1000)
    device: str | None = Field(default=None, max_length=64)
    model_status: WorkerModelStatus = "not_loaded"
    error: str | None = Field(default=None, max_length=8000)
    jobs: list[tuple[Annotated[int, Field(ge=1, le=MAX_ID)], Annotated[int, Field(ge=1, le=1_000_000)]]] = Field(
        default_factory=list, max_length=64)
    runs: list[tuple[Annotated[int, Field(ge=1, le=MAX_ID)], Annotated[int, Field(ge=1, le=1_000_000)]]] = Field(
        default_factory=list, max_length=64)


class WorkerInfo(Model):
    name: str
    queues: list[str]
    base_model: str
    device: str | None
    model_status: str
    error: str | None
    current: str | None
    last_seen_s: float


# Generation jobs on workers (/api/worker/jobs/*).

Attempt = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
MAX_WORKER_ERROR_CHARS = 4000


class WorkerJobClaim(Model):
    """The claim's body: ``{}`` (the worker's name comes from the X-TD-Worker header)."""


class WorkerAdapterRef(Model):
    """The adapter a claimed job generates with; ``key`` changes whenever its files are re-saved."""

    id: int
    base_model: str
    key: str | None


class WorkerJobClaimed(Model):
    """Everything a worker needs to run a job; every later call carries ``attempt``."""

    attempt: int
    job_id: int
    prompt_text: str
    prompt_attributes: dict[str, Any]
    num_samples: int
    params: dict[str, Any]
    seeds: list[int]
    base_model: str
    adapter: WorkerAdapterRef | None


class WorkerJobProgress(Model):
    attempt: Attempt
    progress: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class WorkerJobCancel(Model):
    """``cancel``: the user asked to stop; the worker reports ``/cancelled`` and drops its clips."""

    cancel: bool


class WorkerJobAttempt(Model):
    attempt: Attempt


class WorkerJobFail(Model):
    attempt: Attempt
    error: Annotated[CleanStr, StringConstraints(min_length=1, max_length=MAX_WORKER_ERROR_CHARS)]


class WorkerClip(Model):
    """A stored clip as the app measured it."""

    file_path: str
    duration: float
    sample_rate: int


class WorkerJobCompleted(Model):
    audio_ids: list[int]


class WorkerJobFinished(Model):
    status: JobStatus
