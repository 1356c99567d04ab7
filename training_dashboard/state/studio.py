"""The studio: prompt form, adapter choice, the generation job, clips and their feedback."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client, audio_src, error_text, parse_tags
from training_dashboard.state.listen_gate import ListenGate, collect_js, gate_hint, reason_of
from training_dashboard.state.model import ModelState
from training_dashboard.state.rater import listener_id
from training_dashboard.state.signals import Signal
from training_dashboard.state.stats import StatsState

POLL_S = 0.5
LABELS = "ABCD"
SUGGESTED_TAGS = ("melodic", "energetic", "calm", "catchy", "clean", "noisy", "repetitive", "off-tempo")
TERMINAL = ("completed", "failed", "cancelled")
JOB_ENDED = Signal()  # after a generation job ends (or fails to start)
PREF_REASON = "pref-reason"


@dataclasses.dataclass
class Clip:
    id: int
    label: str
    seed: int
    adapter_label: str
    src: str
    duration: float
    rating: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)
    free_tags: str = ""
    notes: str = ""
    submitted: bool = False


def prompt_problem(text: str, tempo: str, duration: str) -> str:
    """What keeps the form from being sent (an empty prompt is not reported, just not sendable)."""
    if len(text) > schemas.MAX_PROMPT_CHARS:
        return f"The prompt is {len(text)} characters; the limit is {schemas.MAX_PROMPT_CHARS}"
    if tempo.strip():
        if schemas.parse_int(tempo.strip(), 40, 200) is None:
            return "Tempo must be a whole number from 40 to 200 BPM"
    seconds = schemas.parse_float(duration, 0, float("inf"))
    if seconds is None:
        return "Duration must be a number of seconds"
    if not 0 < seconds <= 30:
        return "Duration must be more than 0 and at most 30 seconds"
    return ""


def prompt_key(text: str, style: str, tempo: str, instruments: str, mood: str) -> str:
    """The editor's prompt as the API would store it (text + attributes), as one comparable string;
    ``""`` when the fields cannot make a prompt."""
    try:
        return schemas.PromptCreate(text=text, attributes=editor_attributes(style, tempo, instruments, mood)) \
            .model_dump_json()
    except ValueError:
        return ""


def editor_attributes(style: str, tempo: str, instruments: str, mood: str) -> schemas.PromptAttributes:
    return schemas.PromptAttributes(
        style=style.strip() or None, tempo=schemas.parse_int(tempo.strip(), 40, 200),
        instruments=[i.strip() for i in instruments.split(",") if i.strip()], mood=mood.strip() or None)


def player_id(audio_id: int) -> str:
    """The element id of a clip's player (the listen gate's key for it)."""
    return f"clip-audio-{audio_id}"


def clip_from(index: int, audio: schemas.AudioBrief) -> Clip:
    return Clip(id=audio.id, label=LABELS[index % len(LABELS)], seed=audio.seed, adapter_label=audio.adapter_label,
                src=audio_src(audio.stream_url), duration=audio.duration)


class StudioState(ListenGate, rx.State):
    text: str = ""
    style: str = ""
    tempo: str = "120"
    instruments: str = ""
    mood: str = ""
    duration: str = "5"
    num_samples: str = "2"
    adapter_choice: str = "base"
    seed: str = ""  # empty: random; "Use this prompt" in the History fills it to reproduce a clip
    # The stored prompt the editor last loaded (library, History) or generated: while the text and
    # attributes are still exactly its own, Generate reuses it (its "generated N×" grows) and the
    # editor's star marks it.
    prompt_id: int = 0
    prompt_favourite: bool = False
    _prompt_key: str = ""

    job_id: int = 0
    job_status: str = ""
    job_progress: int = 0
    job_error: str = ""
    job_adapter: str = ""
    generating: bool = False
    clips: list[Clip] = []
    pref_a: str = "A"
    pref_b: str = "B"
    pref_result: str = ""

    @rx.var
    def char_count(self) -> str:
        return f"{len(self.text)} / {schemas.MAX_PROMPT_CHARS}"

    @rx.var
    def over_limit(self) -> bool:
        return len(self.text) > schemas.MAX_PROMPT_CHARS

    @rx.var
    def form_problem(self) -> str:
        return prompt_problem(self.text, self.tempo, self.duration)

    @rx.var
    def can_generate(self) -> bool:
        return bool(self.text.strip()) and not self.form_problem and not self.generating

    def _editor_key(self) -> str:
        return prompt_key(self.text, self.style, self.tempo, self.instruments, self.mood)

    @rx.var
    def reuses_prompt(self) -> bool:
        """The editor holds exactly the stored prompt ``prompt_id``: Generate reuses it."""
        return bool(self.prompt_id and self._prompt_key and self._editor_key() == self._prompt_key)

    def _hold_prompt(self, prompt_id: int, favourite: bool, key: str | None = None) -> None:
        """Remember the stored prompt the editor now holds (``key``: its fields' key, by default the
        editor's current one)."""
        self.prompt_id, self.prompt_favourite = prompt_id, favourite
        self._prompt_key = self._editor_key() if key is None else key

    def _load_fields(self, fields: dict[str, str], prompt_id: int = 0, favourite: bool = False) -> None:
        """Fill the editor (History's "Use this prompt", the library, a template); nothing is generated.
        With ``prompt_id`` the fields are that stored prompt's, and Generate reuses it until they change."""
        for name, value in fields.items():
            setattr(self, name, value)
        if prompt_id:
            self._hold_prompt(prompt_id, favourite)

    @rx.var
    def clip_labels(self) -> list[str]:
        return [c.label for c in self.clips]

    def _listen_left(self, clips: list[Clip]) -> str:
        durations = {player_id(c.id): self.heard_of.get(player_id(c.id)) or c.duration for c in clips}
        return gate_hint(self.listen_rule, self.heard, durations, [(player_id(c.id), f"clip {c.label}")
                                                                     for c in clips])

    def _pref_clips(self) -> list[Clip]:
        by_label = {c.label: c for c in self.clips}
        return [by_label[x] for x in dict.fromkeys((self.pref_a, self.pref_b)) if x in by_label]

    @rx.var
    def clip_hints(self) -> list[str]:
        """Per clip, what is left to hear before its rating can be sent ("" once it can)."""
        return [self._listen_left([c]) for c in self.clips]

    @rx.var
    def pref_hint(self) -> str:
        return self._listen_left(self._pref_clips())

    def _player_src(self, player: str) -> str:
        return next((c.src for c in self.clips if player_id(c.id) == player), "")

    @rx.event
    def set_text(self, value: str) -> None:
        self.text = value

    @rx.event
    def set_style(self, value: str) -> None:
        self.style = value

    @rx.event
    def set_tempo(self, value: str) -> None:
        self.tempo = value

    @rx.event
    def set_instruments(self, value: str) -> None:
        self.instruments = value

    @rx.event
    def set_mood(self, value: str) -> None:
        self.mood = value

    @rx.event
    def set_duration(self, value: str) -> None:
        self.duration = value

    @rx.event
    def set_num_samples(self, value: str | list[str]) -> None:
        value = value[0] if isinstance(value, list) and value else value
        self.num_samples = value if value in ("1", "2", "3", "4") else "1"

    @rx.event
    def set_adapter_choice(self, value: str) -> None:
        self.adapter_choice = value

    @rx.event
    def set_seed(self, value: str) -> None:
        self.seed = value.strip()

    def _request_parts(self) -> tuple[schemas.PromptCreate, int, int | None, float]:
        attributes = editor_attributes(self.style, self.tempo, self.instruments, self.mood)
        adapter_id = schemas.parse_int(self.adapter_choice)
        return (schemas.PromptCreate(text=self.text, attributes=attributes), int(self.num_samples), adapter_id,
                float(self.duration.strip()))

    def _apply_job(self, job: schemas.JobPublic) -> None:
        self.job_id, self.job_status = job.id, job.status
        self.job_progress = round(100 * job.progress)
        self.job_error = job.error or ""

    @rx.event(background=True)
    async def generate(self):  # type: ignore[no-untyped-def]
        async with self:
            if not self.can_generate:
                return
            model = await self.get_state(ModelState)
            if model.failed:
                yield rx.toast.error(model.text)
                return
            try:
                prompt, count, adapter_id, seconds = self._request_parts()
                seed = schemas.parse_int(self.seed, 0, schemas.MAX_SEED) if self.seed else None
                if self.seed and seed is None:
                    raise ValueError(f"Seed must be a whole number from 0 to {schemas.MAX_SEED}")
            except ValueError as exc:
                self.job_error = str(exc)
                return
            reuse, key = (self.prompt_id if self.reuses_prompt else 0), self._editor_key()
            self.generating, self.clips, self.pref_result = True, [], ""
            self._reset_heard()
            self.job_id, self.job_status, self.job_progress, self.job_error = 0, "queued", 0, ""
        try:
            async with api_client(self) as api:
                prompt_id = reuse or (await api.create_prompt(prompt)).id
                if not reuse:
                    async with self:
                        self._hold_prompt(prompt_id, False, key)
                job = await api.generate(schemas.GenerateRequest(
                    prompt_id=prompt_id, num_samples=count, adapter_id=adapter_id, duration=seconds, seed=seed))
                async with self:
                    self._apply_job(job)
                while job.status not in TERMINAL:
                    await asyncio.sleep(POLL_S)
                    job = await api.get_job(job.id)
                    async with self:
                        self._apply_job(job)
                if job.status == "completed":
                    detail = await api.get_prompt(prompt_id)
                    samples = [s for s in detail.samples if s.id in job.audio_ids]
                    async with self:
                        self.clips = [clip_from(i, s) for i, s in enumerate(samples)]
                        self.job_adapter = samples[0].adapter_label if samples else ""
                        self.pref_a, self.pref_b = "A", "B"
        except Exception as exc:  # noqa: BLE001
            async with self:
                self.job_status, self.job_error = "failed", error_text(exc)
            yield rx.toast.error(f"Generation failed: {error_text(exc)}")
        finally:
            async with self:
                self.generating = False
        for handler in JOB_ENDED.handlers():  # e.g. the new job joins the History list
            yield handler

    @rx.event
    async def cancel_job(self):  # type: ignore[no-untyped-def]
        if not self.job_id or self.job_status in TERMINAL:
            return
        try:
            async with api_client(self) as api:
                self._apply_job(await api.cancel_job(self.job_id))
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Could not cancel: {error_text(exc)}")

    # -- feedback ----------------------------------------------------------------------

    def _update_clip(self, index: int, **changes: object) -> None:
        if 0 <= index < len(self.clips):
            self.clips[index] = dataclasses.replace(self.clips[index], **changes)  # type: ignore[arg-type]

    @rx.event
    def set_rating(self, index: int, value: str) -> None:
        self._update_clip(index, rating=value)

    @rx.event
    def toggle_tag(self, index: int, tag: str) -> None:
        tags = set(self.clips[index].tags)
        tags ^= {tag}
        self._update_clip(index, tags=sorted(tags))

    @rx.event
    def set_free_tags(self, index: int, value: str) -> None:
        self._update_clip(index, free_tags=value)

    @rx.event
    def set_notes(self, index: int, value: str) -> None:
        self._update_clip(index, notes=value)

    @rx.event
    def collect_and_submit_feedback(self, index: int):  # type: ignore[no-untyped-def]
        """Submit's click: read what was heard in the browser, then :meth:`submit_feedback`. (The
        clip's index lives in a ``foreach``, out of reach of a ``call_script`` callback written in
        the page, so the server writes that callback with the index filled in.)"""
        return rx.call_script(collect_js(), callback=StudioState.submit_feedback(index))

    @rx.event
    async def submit_feedback(self, index: int, collected: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
        """Send clip ``index``'s rating, with what the tracker measured (``collect_js``)."""
        if not 0 <= index < len(self.clips):
            return
        clip = self.clips[index]
        rating = schemas.parse_int(clip.rating, 1, 5)
        if rating is None:
            yield rx.toast.error("Choose a rating from 1 to 5 first")
            return
        self._take_all(collected)
        if hint := self._listen_left([clip]):
            yield rx.toast.error(hint)
            return
        player = player_id(clip.id)
        listening = self._listening(collected, {player: ("audio_id", clip.id)}, {player: clip.duration})
        try:
            body = schemas.FeedbackCreate(audio_id=clip.id, rating=rating, listening=listening,
                                          tags=sorted(set(clip.tags) | set(parse_tags(clip.free_tags))),
                                          notes=clip.notes.strip() or None,
                                          rater_id=await listener_id(self) or None)
            async with api_client(self) as api:
                await api.submit_feedback(body)
                stats = await api.feedback_stats()
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Rating not saved: {error_text(exc)}")
            return
        self._update_clip(index, submitted=True)
        (await self.get_state(StatsState))._apply(stats)
        yield rx.toast.success(f"Rating for clip {clip.label} saved")

    @rx.event
    def set_pref_a(self, value: str) -> None:
        self.pref_a = value

    @rx.event
    def set_pref_b(self, value: str) -> None:
        self.pref_b = value

    @rx.event
    async def submit_preference(self, choice: str, collected: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
        """Send the A/B choice, with what was heard and the reason box's text (``collect_js``)."""
        by_label = {c.label: c for c in self.clips}
        first, second = by_label.get(self.pref_a), by_label.get(self.pref_b)
        if first is None or second is None or first.id == second.id:
            yield rx.toast.error("Pick two different clips to compare")
            return
        self._take_all(collected)
        if hint := self._listen_left([first, second]):
            yield rx.toast.error(hint)
            return
        chosen, rejected = (second, first) if choice == "b" else (first, second)
        listening = self._listening(collected, {player_id(c.id): ("audio_id", c.id) for c in (first, second)},
                                    {player_id(c.id): c.duration for c in (first, second)})
        reason = reason_of(collected)
        try:
            async with api_client(self) as api:
                await api.submit_preference(schemas.PreferenceCreate(
                    chosen_id=chosen.id, rejected_id=rejected.id, tie=choice == "tie",
                    rater_id=await listener_id(self) or None, listening=listening,
                    reason=reason))
                stats = await api.feedback_stats()
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Preference not saved: {error_text(exc)}")
            return
        self.pref_result = ("Tie between " + f"{first.label} and {second.label}" if choice == "tie"
                            else f"{chosen.label} preferred over {rejected.label}")
        (await self.get_state(StatsState))._apply(stats)
        yield rx.toast.success("Preference saved")
