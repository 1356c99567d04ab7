"""Raters and the blind listening queue."""

from __future__ import annotations

from training_dashboard.schemas.common import Model, Name, UTCDateTime
from training_dashboard.schemas.prompts import PromptPublic


class RaterCreate(Model):
    name: Name


class RaterPublic(Model):
    id: int
    name: str
    created_at: UTCDateTime
    rating_count: int = 0
    preference_count: int = 0


class QueueClip(Model):
    """The next clip for a rater, blind: nothing in it names or hints at the adapter."""

    audio_id: int
    stream_url: str
    duration: float
    sample_rate: int
    prompt: PromptPublic
    rating_count: int
    target: int


class QueueClipRevealed(QueueClip):
    adapter_id: int | None
    adapter_label: str


class QueueSummary(Model):
    rater_id: int
    target: int
    remaining: int
    rated_today: int
    rated_total: int
