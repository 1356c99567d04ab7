"""The adapter registry: registration, updates, usage and the evaluation verdict."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from training_dashboard.schemas.common import CleanStr, Id, Model, Name, UTCDateTime, _check_json

SEMVER_RE = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"


AdapterStatus = Literal["all", "active", "inactive"]


class AdapterCreate(Model):
    name: Name
    version: Annotated[str, Field(max_length=64, pattern=SEMVER_RE)] = "1.0.0"
    path: Annotated[str, Field(min_length=1, max_length=1000)]
    description: Annotated[CleanStr, Field(max_length=2000)] | None = None
    base_model: Annotated[CleanStr, Field(min_length=1, max_length=500)] | None = None
    dataset_id: Id | None = None
    manifest_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    training_config: dict[str, Any] = {}
    report: dict[str, Any] = {}
    is_active: bool = False

    @field_validator("training_config", "report")
    @classmethod
    def _finite_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value, depth=0)
        return value


class AdapterUpdate(Model):
    description: Annotated[CleanStr, Field(max_length=2000)] | None = None
    is_active: bool | None = None


class AdapterUsage(Model):
    samples_generated: int
    ratings: int
    average_rating: float | None
    preference_wins: int
    preference_losses: int
    preference_win_rate: float | None


class AdapterVerdict(Model):
    """The latest completed blind evaluation of an adapter against the base model."""

    verdict: Literal["none", "better", "worse", "inconclusive"] = "none"
    evaluation_id: int | None = None
    win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    votes: int = 0


class AdapterPublic(Model):
    id: int
    name: str
    version: str
    description: str | None
    base_model: str
    path: str
    dataset_id: int | None
    dataset_name: str | None = None
    manifest_sha256: str | None
    training_config: dict[str, Any]
    report: dict[str, Any]
    is_active: bool
    compatible: bool = True
    created_at: UTCDateTime
    updated_at: UTCDateTime
    evaluation: AdapterVerdict = AdapterVerdict()
    forced_activation_reason: str | None = None
    forced_activation_at: UTCDateTime | None = None
    created_by: int | None = None  # user ids: who registered, activated, forced past the gate
    activated_by: int | None = None
    forced_by: int | None = None


class AdapterDetail(AdapterPublic):
    usage: AdapterUsage
