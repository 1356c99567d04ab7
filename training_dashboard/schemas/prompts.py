"""Prompts and the clips generated from them (the brief form)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from training_dashboard.schemas.common import MAX_PROMPT_CHARS, CleanStr, Model, UTCDateTime, _no_control_chars


class PromptAttributes(Model):
    style: Annotated[CleanStr, Field(max_length=200)] | None = None
    tempo: Annotated[int, Field(ge=40, le=200, strict=True)] | None = None
    instruments: Annotated[list[Annotated[CleanStr, Field(min_length=1, max_length=64)]], Field(max_length=20)] = []
    mood: Annotated[CleanStr, Field(max_length=200)] | None = None


class PromptCreate(Model):
    text: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    attributes: PromptAttributes = PromptAttributes()

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        value = _no_control_chars(value)
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class AudioBrief(Model):
    id: int
    job_id: int | None
    adapter_id: int | None
    adapter_label: str
    seed: int
    duration: float
    sample_rate: int
    stream_url: str
    created_at: UTCDateTime
    blinded: bool = False  # the adapter is hidden: this rater has not rated the clip yet


class PromptPublic(Model):
    id: int
    text: str
    attributes: PromptAttributes
    created_at: UTCDateTime


class PromptDetail(PromptPublic):
    samples: list[AudioBrief]
