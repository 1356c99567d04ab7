"""Generation jobs and their history entries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from training_dashboard.schemas.common import MAX_SEED, Id, Model, UTCDateTime
from training_dashboard.schemas.prompts import PromptPublic

JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]


class GenerateRequest(Model):
    prompt_id: Id
    num_samples: Annotated[int, Field(ge=1, le=4, strict=True)] = 1
    adapter_id: Id | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    duration: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False)] = 5.0
    temperature: Annotated[float, Field(gt=0, le=5, allow_inf_nan=False)] = 1.0
    top_k: Annotated[int, Field(ge=0, le=4096)] = 250
    top_p: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    guidance_scale: Annotated[float, Field(ge=1, le=10, allow_inf_nan=False)] = 3.0


class JobPublic(Model):
    id: int
    prompt_id: int
    adapter_id: int | None
    status: JobStatus
    progress: float
    audio_ids: list[int]
    error: str | None
    num_samples: int
    params: dict[str, Any]
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    finished_at: UTCDateTime | None
    attempts: int = 0  # scale-out: how many times a worker claimed it
    worker_name: str | None = None  # scale-out: the worker that holds (or last held) it
    blinded: bool = False  # the adapter is hidden from a rater who has not rated every clip of the job


class JobSummary(Model):
    """A history entry: a job with its prompt, adapter and clips."""

    id: int
    status: JobStatus
    prompt: PromptPublic
    adapter_id: int | None
    adapter_label: str
    num_samples: int
    params: dict[str, Any]
    audio_ids: list[int]
    seeds: list[int] = []
    stream_urls: list[str] = []
    error: str | None
    created_at: UTCDateTime
    finished_at: UTCDateTime | None
    blinded: bool = False  # the adapter is hidden from a rater who has not rated every clip of the job
    prompt_favourite: bool = False  # the asking person has starred the prompt
