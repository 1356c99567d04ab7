"""The studio's History: the latest jobs, their clips playable and rateable, and
"Use this prompt" to refill the editor with the same settings and seed."""

from __future__ import annotations

import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client, audio_src, error_text, short_date
from training_dashboard.state.listen_gate import ListenGate, collect_js, gate_hint
from training_dashboard.state.loading import load
from training_dashboard.state.rate import attributes_text
from training_dashboard.state.rater import RaterState, listener_id
from training_dashboard.state.studio import JOB_ENDED, StudioState

HISTORY_LIMIT = 10


@dataclasses.dataclass
class HistoryClip:
    id: int
    seed: int
    src: str
    rated: str = ""


@dataclasses.dataclass
class HistoryJob:
    id: int
    status: str
    prompt_text: str
    attributes: str
    adapter_label: str
    created: str
    clips: list[HistoryClip] = dataclasses.field(default_factory=list)
    prompt_id: int = 0
    favourite: bool = False  # the prompt is a favourite of the person signed in


def history_job(job: schemas.JobSummary) -> HistoryJob:
    return HistoryJob(
        id=job.id, status=job.status, prompt_text=job.prompt.text, attributes=attributes_text(job.prompt.attributes),
        adapter_label=job.adapter_label, created=short_date(job.created_at),
        clips=[HistoryClip(id=a, seed=s, src=audio_src(u)) for a, s, u in
               zip(job.audio_ids, job.seeds, job.stream_urls, strict=False)],
        prompt_id=job.prompt.id, favourite=job.prompt_favourite,
    )


def history_player_id(audio_id: int) -> str:
    """The element id of a History clip's player (the listen gate's key for it)."""
    return f"history-audio-{audio_id}"


def editor_fields(job: schemas.JobSummary) -> dict[str, str]:
    """The studio editor's fields that reproduce a job: prompt, attributes, settings, seed."""
    attrs, params = job.prompt.attributes, job.params
    seed = job.seeds[0] if job.seeds else params.get("seed")
    return {
        "text": job.prompt.text, "style": attrs.style or "", "tempo": str(attrs.tempo) if attrs.tempo else "",
        "instruments": ", ".join(attrs.instruments), "mood": attrs.mood or "",
        "duration": f"{float(params.get('duration', 5.0)):g}", "num_samples": str(job.num_samples),
        "adapter_choice": str(job.adapter_id) if job.adapter_id else "base",
        "seed": "" if seed is None else str(seed),
    }


class HistoryState(ListenGate, rx.State):
    jobs: list[HistoryJob] = []
    loading: bool = False
    _summaries: dict[int, schemas.JobSummary] = {}

    @rx.event(background=True)
    async def load_history(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, lambda api: api.list_jobs(limit=HISTORY_LIMIT), self._show):
            yield rx.toast.error(f"Could not load the history: {error}")

    def _show(self, page: schemas.Page[schemas.JobSummary]) -> None:
        self._summaries = {j.id: j for j in page.items}
        self.jobs = [history_job(j) for j in page.items]

    @rx.event
    async def use_prompt(self, job_id: int):  # type: ignore[no-untyped-def]
        job = self._summaries.get(job_id)
        if job is None:
            return
        studio = await self.get_state(StudioState)
        favourite = next((j.favourite for j in self.jobs if j.id == job_id), job.prompt_favourite)
        studio._load_fields(editor_fields(job), job.prompt.id, favourite)
        yield rx.toast.info(f"Prompt of job #{job_id} loaded with seed {studio.seed or 'random'}")

    def _mark_favourite(self, prompt_id: int, favourite: bool) -> None:
        """Show a star change (made anywhere in the studio) on every entry of that prompt."""
        for index, job in enumerate(self.jobs):
            if job.prompt_id == prompt_id and job.favourite != favourite:
                self.jobs[index] = dataclasses.replace(job, favourite=favourite)

    def _player_src(self, player: str) -> str:
        return next((c.src for j in self.jobs for c in j.clips if history_player_id(c.id) == player), "")

    @rx.event
    def collect_and_rate_clip(self, audio_id: int, value: str):  # type: ignore[no-untyped-def]
        """The Rate menu: read what was heard in the browser, then :meth:`rate_clip`."""
        return rx.call_script(collect_js(), callback=HistoryState.rate_clip(audio_id, value))

    @rx.event
    async def rate_clip(self, audio_id: int, value: str, collected: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
        rater_id = await listener_id(self)
        if not rater_id:
            yield RaterState.open_picker
            return
        rating = schemas.parse_int(value, 1, 5)
        if rating is None:
            yield rx.toast.error("Choose a rating from 1 to 5")
            return
        player = history_player_id(audio_id)
        self._take_all(collected)
        if hint := gate_hint(self.listen_rule, self.heard, self.heard_of, [(player, f"clip #{audio_id}")]):
            yield rx.toast.error(hint)
            return
        try:
            async with api_client(self) as api:
                await api.submit_feedback(schemas.FeedbackCreate(
                    audio_id=audio_id, rating=rating, rater_id=rater_id,
                    listening=self._listening(collected, {player: ("audio_id", audio_id)})))
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Rating not saved: {error_text(exc)}")
            return
        for j, job in enumerate(self.jobs):
            for c, clip in enumerate(job.clips):
                if clip.id == audio_id:
                    clips = list(job.clips)
                    clips[c] = dataclasses.replace(clip, rated=value)
                    self.jobs[j] = dataclasses.replace(job, clips=clips)
        yield rx.toast.success(f"Clip #{audio_id}: {value}★ saved")


JOB_ENDED.connect(HistoryState.load_history)  # a new job joins the list
