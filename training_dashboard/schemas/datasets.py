"""Datasets: the feedback filter, previews, snapshots and exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from training_dashboard.schemas.common import MAX_TAGS, CleanStr, Id, Model, Name, Tag, UTCDateTime

DatasetType = Literal["supervised", "preference"]
ExportFormat = Literal["jsonl", "huggingface"]


class DatasetFilter(Model):
    """Which feedback a dataset takes. ``None`` means "no constraint" for every field."""

    min_rating: Annotated[int, Field(ge=1, le=5, strict=True)] | None = None
    max_rating: Annotated[int, Field(ge=1, le=5, strict=True)] | None = None
    required_tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    excluded_tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    adapter_id: Id | Literal["base"] | None = None
    start_date: date | None = None
    end_date: date | None = None
    rater_ids: Annotated[list[Id], Field(max_length=100)] = []
    min_raters: Annotated[int, Field(ge=1, le=1000, strict=True)] | None = None
    aggregate: Literal["rating", "clip"] = "rating"

    @model_validator(mode="after")
    def _consistent(self) -> DatasetFilter:
        if self.min_rating and self.max_rating and self.min_rating > self.max_rating:
            raise ValueError("min_rating must not exceed max_rating")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError("start_date must not be after end_date")
        both = set(self.required_tags) & set(self.excluded_tags)
        if both:
            raise ValueError(f"tags both required and excluded: {', '.join(sorted(both))}")
        self.required_tags = sorted(set(self.required_tags))
        self.excluded_tags = sorted(set(self.excluded_tags))
        self.rater_ids = sorted(set(self.rater_ids))
        return self


class DatasetPreviewRequest(Model):
    type: DatasetType = "supervised"
    filter: DatasetFilter = DatasetFilter()


class DatasetPreview(Model):
    count: int


class DatasetCreate(Model):
    name: Name
    description: Annotated[CleanStr, Field(max_length=2000)] | None = None
    type: DatasetType = "supervised"
    filter: DatasetFilter = DatasetFilter()


class ExportPublic(Model):
    dataset_id: int
    format: ExportFormat
    export_path: str
    sample_count: int
    manifest_sha256: str
    train_command: str
    created_at: UTCDateTime


class DatasetPublic(Model):
    id: int
    name: str
    description: str | None
    type: DatasetType
    filter: DatasetFilter
    sample_count: int
    created_at: UTCDateTime
    updated_at: UTCDateTime
    exports: list[ExportPublic]
    adapter_count: int = 0
    created_by: int | None = None  # the user who made it


class DatasetStats(Model):
    dataset_id: int
    sample_count: int
    rating_distribution: dict[str, int]
    unique_prompts: int
    samples_by_adapter: dict[str, int]
    tag_frequencies: dict[str, int]


class ExportRequest(Model):
    format: ExportFormat = "jsonl"
