"""The /rate page: one clip at a time from the listening queue, blind until rated."""

from __future__ import annotations

import reflex as rx

from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state.api import api_client, audio_src
from training_dashboard.state.listening import keys_script
from training_dashboard.state.loading import call
from training_dashboard.state.rater import NO_LISTENER, RATER_CHOSEN, listener_id

RATE_TAGS = ("melodic", "energetic", "calm", "catchy", "clean", "noisy", "repetitive", "off-tempo")

# Keyboard: 1-5 choose a rating, Enter submits, S skips, space plays/pauses.
KEYS_JS = keys_script("__tdRateKeys", "/rate", {**{str(n): f"rate-star-{n}" for n in range(1, 6)},
                                                "Enter": "rate-submit", "s": "rate-skip", "S": "rate-skip"},
                      players=("rate-audio",))


def attributes_text(attrs: schemas.PromptAttributes) -> str:
    parts = [attrs.style or "", f"{attrs.tempo} BPM" if attrs.tempo else "", ", ".join(attrs.instruments),
             attrs.mood or ""]
    return " · ".join(p for p in parts if p)


async def _next(api: ApiClient, rater_id: int,
                skipped: list[int]) -> tuple[schemas.QueueClip | None, schemas.QueueSummary]:
    return await api.next_clip(rater_id, exclude=skipped), await api.queue_summary(rater_id)


async def _save(api: ApiClient, body: schemas.FeedbackCreate) -> str:
    """Store the rating; what to tell the rater then."""
    await api.submit_feedback(body)
    # Only now, with the rating stored, may the rater learn which model made the clip.
    audio = await api.get_audio(body.audio_id)
    return f"Clip #{body.audio_id}: {body.rating}★ saved · made by {audio.adapter_label}"


class RateState(rx.State):
    audio_id: int = 0
    src: str = ""
    prompt_text: str = ""
    prompt_attributes: str = ""
    duration: float = 0.0
    rating: str = ""
    tags: list[str] = []
    empty: bool = False
    loading: bool = False
    submitting: bool = False
    error: str = ""
    remaining: int = 0
    rated_today: int = 0
    target: int = 0
    last_result: str = ""
    skipped: list[int] = []

    @rx.var
    def has_clip(self) -> bool:
        return self.audio_id > 0

    @rx.var
    def can_submit(self) -> bool:
        return self.audio_id > 0 and self.rating in ("1", "2", "3", "4", "5") and not self.submitting

    @rx.var
    def left_text(self) -> str:
        return f"{self.remaining} left for you · {self.rated_today} rated today"

    @rx.event
    def load_page(self):  # type: ignore[no-untyped-def]
        self.skipped = []
        return [rx.call_script(KEYS_JS), RateState.load_next]

    @rx.event
    def set_rating(self, value: str) -> None:
        if value in ("1", "2", "3", "4", "5"):
            self.rating = value

    @rx.event
    def toggle_tag(self, tag: str) -> None:
        self.tags = sorted(set(self.tags) ^ {tag})

    @rx.event
    def skip(self):  # type: ignore[no-untyped-def]
        if self.audio_id:
            self.skipped = [*self.skipped, self.audio_id][-100:]
        return RateState.load_next

    def _show(self, answer: tuple[schemas.QueueClip | None, schemas.QueueSummary]) -> None:
        clip, summary = answer
        self.remaining, self.rated_today, self.target = summary.remaining, summary.rated_today, summary.target
        self.rating, self.tags = "", []
        if clip is None:
            self.audio_id, self.src, self.prompt_text, self.prompt_attributes = 0, "", "", ""
            self.empty = True
            return
        self.empty = False
        self.audio_id, self.src, self.duration = clip.audio_id, audio_src(clip.stream_url), clip.duration
        self.prompt_text, self.prompt_attributes = clip.prompt.text, attributes_text(clip.prompt.attributes)

    def _failed(self, error: str) -> None:
        self.error = error

    @rx.event(background=True)
    async def load_next(self):  # type: ignore[no-untyped-def]
        async with self:
            rater_id = await listener_id(self)
            skipped = list(self.skipped)
            if not rater_id:
                self.audio_id, self.empty = 0, False
                return
            self.loading, self.error = True, ""
        await call(self, api_client, lambda api: _next(api, rater_id, skipped), self._show, failed=self._failed,
                   flag="loading")

    def _saved(self, result: str) -> None:
        self.last_result = result

    @rx.event(background=True)
    async def submit(self):  # type: ignore[no-untyped-def]
        async with self:
            if not self.can_submit:
                return
            rater_id = await listener_id(self)
            if rater_id:
                body = schemas.FeedbackCreate(audio_id=self.audio_id, rating=int(self.rating), tags=self.tags,
                                              rater_id=rater_id)
                self.submitting = True
        if not rater_id:
            yield NO_LISTENER
            return
        if error := await call(self, api_client, lambda api: _save(api, body), self._saved, flag="submitting"):
            yield rx.toast.error(f"Rating not saved: {error}")
            return
        yield RateState.load_next


RATER_CHOSEN.connect(RateState.load_page, path="/rate")  # the queue is per rater: start over
