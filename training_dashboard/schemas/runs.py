"""Training runs: creation, progress, metrics, logs and the run options."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from training_dashboard.schemas.common import Id, Model, Name, UTCDateTime, _check_json

RunTask = Literal["sft", "dpo"]
RunStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
RunPreset = Literal["quick", "standard", "thorough"]
RUN_SERIES = ("loss", "eval_loss", "learning_rate", "grad_norm", "reward_margin", "reward_accuracy")


class RunCreate(Model):
    dataset_id: Id
    task: RunTask
    preset: RunPreset = "standard"
    config: dict[str, Any] = {}
    name: Name | None = None

    @field_validator("config")
    @classmethod
    def _finite_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value, depth=0)
        return value


class RunPublic(Model):
    id: int
    name: str
    dataset_id: int
    dataset_name: str
    task: RunTask
    status: RunStatus
    config: dict[str, Any]
    progress: float
    step: int
    total_steps: int
    best_eval_loss: float | None
    eta_seconds: float | None
    adapter_id: int | None
    error: str | None
    command: str
    output_dir: str
    attempts: int
    cancel_requested: bool
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    finished_at: UTCDateTime | None
    created_by: int | None = None  # the user who launched it


class RunMetrics(Model):
    run_id: int
    last_step: int
    points: int  # how many steps are stored (before downsampling)
    series: dict[str, list[tuple[int, float]]]


class RunLogs(Model):
    text: str
    next_offset: int
    complete: bool


class RunOption(Model):
    name: str  # the API's key in ``config``
    flag: str  # the CLI flag
    kind: Literal["int", "float", "list"]
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    help: str
    tasks: list[RunTask]
    choices: list[str] = []


class RunPresetInfo(Model):
    name: RunPreset
    description: str
    config: dict[str, Any]


class RunOptions(Model):
    presets: list[RunPresetInfo]
    options: list[RunOption]
