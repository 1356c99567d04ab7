"""Generated clips: the full view and the list item."""

from __future__ import annotations

from typing import Any

from training_dashboard.schemas.common import Model
from training_dashboard.schemas.prompts import AudioBrief, PromptPublic


class AdapterBrief(Model):
    id: int
    name: str
    version: str


class AudioPublic(AudioBrief):
    prompt: PromptPublic
    adapter: AdapterBrief | None
    params: dict[str, Any]
    rating_count: int


class AudioListItem(AudioBrief):
    prompt_id: int
    rating_count: int
