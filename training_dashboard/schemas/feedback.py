"""Ratings, preferences, rankings and the feedback statistics."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator, model_validator

from training_dashboard.schemas.common import MAX_TAGS, CleanStr, Id, Model, Score, Tag, UTCDateTime
from training_dashboard.schemas.listening import Listening, ListeningPublic, Reason


class Criteria(Model):
    musicality: Score | None = None
    coherence: Score | None = None
    emotional_alignment: Score | None = None


class FeedbackCreate(Model):
    """A rating. ``listening``: what was heard before it (required while the listen gate is on);
    ``"import": true`` marks a rating brought in from elsewhere: exempt from the gate, stored as
    imported (the Python name is ``imported``)."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)

    audio_id: Id
    rating: Score
    criteria: Criteria = Criteria()
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    notes: Annotated[CleanStr, Field(max_length=5000)] | None = None
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None
    listening: Listening | None = None
    imported: bool = Field(default=False, alias="import", strict=True)

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str]) -> list[str]:
        return sorted(set(tags))


class FeedbackPublic(Model):
    id: int
    audio_id: int
    prompt_id: int
    adapter_id: int | None
    rating: int
    criteria: Criteria
    tags: list[str]
    notes: str | None
    rater: str | None
    created_at: UTCDateTime
    rater_id: int | None = None
    imported: bool = False
    listening: ListeningPublic | None = None


class PreferenceCreate(Model):
    chosen_id: Id
    rejected_id: Id
    tie: bool = False
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None
    listening: Listening | None = None
    reason: Reason | None = None  # why, in the listener's words (blank: none)

    @model_validator(mode="after")
    def _distinct(self) -> PreferenceCreate:
        if self.chosen_id == self.rejected_id:
            raise ValueError("chosen_id and rejected_id must be different clips")
        return self


class RankingCreate(Model):
    audio_ids: Annotated[list[Id], Field(min_length=2, max_length=8)]
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None
    listening: Listening | None = None  # every ranked clip once; each implied pair keeps its two clips
    reason: Reason | None = None

    @field_validator("audio_ids")
    @classmethod
    def _unique(cls, ids: list[int]) -> list[int]:
        if len(set(ids)) != len(ids):
            raise ValueError("a ranking lists each clip once")
        return ids


class PreferencePublic(Model):
    id: int
    prompt_id: int
    chosen_id: int
    rejected_id: int
    tie: bool
    rater: str | None
    created_at: UTCDateTime
    rater_id: int | None = None
    reason: str | None = None
    listening: ListeningPublic | None = None


class Readiness(Model):
    threshold: int
    min_rating: int
    eligible: int
    remaining: int
    ready: bool


class FeedbackStats(Model):
    total_feedback: int
    rating_distribution: dict[str, int]
    samples_by_adapter: dict[str, int]
    avg_rating_by_adapter: dict[str, float]
    preference_pairs: int
    ties: int
    rated_samples: int
    readiness: Readiness
