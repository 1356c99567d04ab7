"""Ratings, preferences, rankings and the feedback statistics."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from training_dashboard.schemas.common import MAX_TAGS, CleanStr, Id, Model, Score, Tag, UTCDateTime


class Criteria(Model):
    musicality: Score | None = None
    coherence: Score | None = None
    emotional_alignment: Score | None = None


class FeedbackCreate(Model):
    audio_id: Id
    rating: Score
    criteria: Criteria = Criteria()
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    notes: Annotated[CleanStr, Field(max_length=5000)] | None = None
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None

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


class PreferenceCreate(Model):
    chosen_id: Id
    rejected_id: Id
    tie: bool = False
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None

    @model_validator(mode="after")
    def _distinct(self) -> PreferenceCreate:
        if self.chosen_id == self.rejected_id:
            raise ValueError("chosen_id and rejected_id must be different clips")
        return self


class RankingCreate(Model):
    audio_ids: Annotated[list[Id], Field(min_length=2, max_length=8)]
    rater: Annotated[CleanStr, Field(min_length=1, max_length=100)] | None = None
    rater_id: Id | None = None

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
