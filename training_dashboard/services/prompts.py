"""Prompts and the clips generated for them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, Prompt
from training_dashboard.services.counters import adapter_label
from training_dashboard.services.errors import NotFound

StreamUrl = Callable[[int], str]


def default_stream_url(audio_id: int) -> str:
    return f"/api/audio/{audio_id}/stream"


def create_prompt(db: Database, data: schemas.PromptCreate) -> Prompt:
    """Store a prompt with its attributes."""
    attrs = data.attributes

    def run(session):  # type: ignore[no-untyped-def]
        prompt = Prompt(text=data.text, style=attrs.style, tempo=attrs.tempo, instruments=attrs.instruments,
                        mood=attrs.mood)
        session.add(prompt)
        session.flush()
        return prompt

    return db.write(run)


def prompt_public(prompt: Prompt) -> schemas.PromptPublic:
    return schemas.PromptPublic(
        id=prompt.id or 0,
        text=prompt.text,
        attributes=schemas.PromptAttributes(
            style=prompt.style, tempo=prompt.tempo, instruments=list(prompt.instruments or []), mood=prompt.mood
        ),
        created_at=prompt.created_at,
    )


def audio_brief(sample: AudioSample, adapter: Adapter | None, stream_url: StreamUrl = default_stream_url
                ) -> schemas.AudioBrief:
    return schemas.AudioBrief(
        id=sample.id or 0,
        job_id=sample.job_id,
        adapter_id=sample.adapter_id,
        adapter_label=adapter_label(sample.adapter_id, *((adapter.name, adapter.version) if adapter else ())),
        seed=sample.seed,
        duration=sample.duration,
        sample_rate=sample.sample_rate,
        stream_url=stream_url(sample.id or 0),
        created_at=sample.created_at,
    )


def get_prompt(db: Database, prompt_id: int, stream_url: StreamUrl = default_stream_url) -> schemas.PromptDetail:
    """A prompt with all its clips, oldest first."""
    with db.session() as session:
        prompt = session.get(Prompt, prompt_id)
        if prompt is None:
            raise NotFound(f"Prompt {prompt_id} not found")
        rows = session.execute(
            select(AudioSample, Adapter)
            .outerjoin(Adapter, Adapter.id == AudioSample.adapter_id)
            .where(AudioSample.prompt_id == prompt_id)
            .order_by(AudioSample.id)
        ).all()
        return schemas.PromptDetail(
            **prompt_public(prompt).model_dump(), samples=[audio_brief(s, a, stream_url) for s, a in rows]
        )
