"""The studio's prompt library, its stars and templates: real states on the real in-process API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.factories import make_clips
from tests.ui.conftest import CountingTransport, run
from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state import history, library, studio, templates
from training_dashboard.state.history import HistoryState
from training_dashboard.state.library import LibraryState, brief, hit_fields, library_hit, top_values
from training_dashboard.state.studio import StudioState
from training_dashboard.state.templates import NAME_TAKEN, TemplateState


@pytest.fixture
def wired(transport: CountingTransport, monkeypatch: pytest.MonkeyPatch) -> CountingTransport:
    """The library's, templates' and History's clients on the test API too."""
    for module in (history, library, templates):
        monkeypatch.setattr(module, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    return transport


def _hit(**changes: Any) -> schemas.PromptHit:
    base = dict(id=7, text="arpeggio in the rain", attributes=schemas.PromptAttributes(
        style="ambient", tempo=84, instruments=["harp", "pad"], mood="wistful"), created_at="2026-01-01T00:00:00Z")
    return schemas.PromptHit.model_validate({**base, **changes})


def test_hit_fields_take_the_last_generation() -> None:
    last = schemas.LastGeneration(job_id=3, adapter_id=5, seed=1234, num_samples=3,
                                  params={"duration": 2.5, "temperature": 1.0})
    fields = hit_fields(_hit(last_generation=last))
    assert fields == {"text": "arpeggio in the rain", "style": "ambient", "tempo": "84", "instruments": "harp, pad",
                      "mood": "wistful", "duration": "2.5", "num_samples": "3", "adapter_choice": "5", "seed": "1234"}
    never = hit_fields(_hit(attributes=schemas.PromptAttributes()))
    assert never == {"text": "arpeggio in the rain", "style": "", "tempo": "", "instruments": "", "mood": "",
                     "seed": ""}  # never generated: a random seed, the other settings stay as they are
    row = library_hit(_hit(generated=4, rating_count=2, mean_rating=4.25, favourite=True, last_generation=last))
    assert (row.generated, row.rating, row.favourite) == ("generated 4×", "★ 4.2 (2)", True)
    assert row.settings == "seed 1234 · 2.5 s · 3 clips" and row.attributes == "ambient · 84 BPM · harp, pad · wistful"
    assert library_hit(_hit()).rating == "not rated" and library_hit(_hit()).generated == "never generated"


def test_chips_and_errors_stay_small() -> None:
    assert top_values(list("abcdefg"), "") == list("abcde")
    assert top_values(list("abcdefg"), "g") == [*"abcde", "g"]  # the chosen chip stays, to be unchosen
    assert "web page" in brief("<!DOCTYPE html><html><body>Not found</body></html>")
    assert len(brief("x" * 5000)) == 300 and brief("Not found") == "Not found"


async def test_editor_reuses_the_prompt_it_holds_until_it_changes(root) -> None:  # type: ignore[no-untyped-def]
    editor = await root.get_state(StudioState)
    editor._load_fields(hit_fields(_hit()), prompt_id=7, favourite=True)
    assert editor.reuses_prompt and editor.prompt_id == 7 and editor.prompt_favourite
    await run(StudioState.set_text, editor, "arpeggio in the rain, slower")
    assert not editor.reuses_prompt  # edited: Generate makes a new prompt
    await run(StudioState.set_text, editor, "arpeggio in the rain")
    assert editor.reuses_prompt  # back to exactly the stored prompt
    await run(StudioState.set_instruments, editor, "harp,  pad ")  # the same list once parsed
    assert editor.reuses_prompt
    await run(StudioState.set_mood, editor, "hopeful")
    assert not editor.reuses_prompt
    await run(StudioState.set_duration, editor, "9")
    await run(StudioState.set_mood, editor, "wistful")
    assert editor.reuses_prompt  # settings are not the prompt: they never stop the reuse


async def _prompt(api: ApiClient, text: str, **attributes: Any) -> schemas.PromptPublic:
    return await api.create_prompt(schemas.PromptCreate(text=text, attributes=schemas.PromptAttributes(**attributes)))


async def _search(state: LibraryState) -> None:
    await run(LibraryState.search, state)


async def test_search_as_you_type_and_load_with_the_keyboard(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    arp = await _prompt(api, "Slow arpeggio on a felt piano", style="ambient", tempo=70, instruments=["piano"],
                        mood="calm")
    await _prompt(api, "Arpeggiated synth lead over drums", style="synthwave")
    await _prompt(api, "Cello and rain", mood="melancholic")
    make_clips(db, settings, arp.id, n=2, seed=4242)
    state = await root.get_state(LibraryState)
    await run(LibraryState.load_library, state)  # facets, then the first search (its event, run here)
    await _search(state)
    assert state.loaded and state.total == 3 and {"ambient", "synthwave"} <= set(state.style_facets)

    events = await run(LibraryState.set_query, state, "arp")
    assert "search" in str(events[0])
    await _search(state)
    assert state.total == 2 and all("rpeggi" in h.text for h in state.hits)  # prefix: "arp" finds arpeggio
    assert await run(LibraryState.set_query, state, "arp") == []  # Enter resends the same text: no new search

    await run(LibraryState.key_down, state, "ArrowDown")
    await run(LibraryState.key_down, state, "ArrowDown")
    assert state.highlighted == 1
    await run(LibraryState.key_down, state, "ArrowDown")
    assert state.highlighted == 0  # wraps
    await run(LibraryState.key_down, state, "ArrowUp")
    assert state.highlighted == 1
    index = next(i for i, h in enumerate(state.hits) if h.id == arp.id)
    state.highlighted = index
    jobs_before = (await api.list_jobs()).total
    wired.paths.clear()
    events = await run(LibraryState.key_down, state, "Enter")
    load = events[0]  # Enter hands over to load_prompt with the highlighted result's id
    assert load.handler.fn.__name__ == "load_prompt" and str(load.args[0][1]) == str(arp.id)
    await run(LibraryState.load_prompt, state, arp.id)
    editor = await root.get_state(StudioState)
    assert (editor.text, editor.style, editor.tempo, editor.instruments, editor.mood) == (
        "Slow arpeggio on a felt piano", "ambient", "70", "piano", "calm")
    assert (editor.seed, editor.num_samples, editor.duration, editor.adapter_choice) == ("4242", "2", "0.5", "base")
    assert editor.reuses_prompt and editor.prompt_id == arp.id
    assert (await api.list_jobs()).total == jobs_before and not [p for p in wired.paths if p.startswith("POST")]

    await run(LibraryState.set_query, state, "zzzq")
    await _search(state)
    assert state.hits == [] and state.empty_text == "Nothing matches 'zzzq' — try fewer words"


class GatedTransport(CountingTransport):
    """Holds back the answer to the search for ``held`` until ``release`` is set."""

    def __init__(self, app: Any, held: str) -> None:
        super().__init__(app)
        self.held, self.release, self.waiting = held, asyncio.Event(), asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/prompts") and request.url.params.get("q") == self.held:
            self.waiting.set()
            await self.release.wait()
        return await super().handle_async_request(request)


async def test_a_late_answer_never_replaces_a_newer_one(root, app, api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await _prompt(api, "cello and rain")
    await _prompt(api, "harp and wind")
    gated = GatedTransport(app, held="cel")
    monkeypatch.setattr(library, "api_client", lambda *_: ApiClient("http://test/api", transport=gated))
    state = await root.get_state(LibraryState)
    await run(LibraryState.set_query, state, "cel")
    slow = asyncio.create_task(_search(state))
    await gated.waiting.wait()
    assert state.searching
    await run(LibraryState.set_query, state, "harp")
    await _search(state)  # the newer request answers first
    assert [h.text for h in state.hits] == ["harp and wind"] and not state.searching
    gated.release.set()
    await slow
    assert [h.text for h in state.hits] == ["harp and wind"] and state.shown_query == "harp"  # the late one dropped


async def test_filters_and_empty_states(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(LibraryState)
    await _search(state)
    assert state.hits == [] and state.empty_text == "No prompts yet — write one and press Generate"
    await run(LibraryState.toggle_favourites, state)
    await _search(state)
    assert state.empty_text == "No favourites yet — star a prompt"
    await run(LibraryState.clear_filters, state)

    rated = await _prompt(api, "rated tune", style="jazz")
    await _prompt(api, "unrated tune", style="jazz")
    ids = make_clips(db, settings, rated.id, n=2)
    for audio_id, stars in zip(ids, (4, 5), strict=True):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=stars))
    await run(LibraryState.toggle_rated, state, "rated")
    await _search(state)
    assert [h.text for h in state.hits] == ["rated tune"] and state.hits[0].rating == "★ 4.5 (2)"
    await run(LibraryState.toggle_rated, state, "unrated")
    await _search(state)
    assert [h.text for h in state.hits] == ["unrated tune"]
    await run(LibraryState.toggle_rated, state, "unrated")  # a second click clears it
    await run(LibraryState.toggle_top_rated, state)
    await _search(state)
    assert [h.text for h in state.hits] == ["rated tune"]
    await run(LibraryState.set_sort, state, "most_generated")
    await run(LibraryState.toggle_top_rated, state)
    await run(LibraryState.toggle_style, state, "jazz")
    await _search(state)
    assert [h.text for h in state.hits] == ["rated tune", "unrated tune"] and state.hits[0].generated == "generated 2×"
    await run(LibraryState.toggle_mood, state, "nowhere")
    await _search(state)
    assert state.empty_text == "No prompts match these filters — clear one"


async def test_a_star_follows_the_prompt_everywhere(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await _prompt(api, "brass and rain", style="funk")
    make_clips(db, settings, prompt.id, n=1)
    state = await root.get_state(LibraryState)
    await _search(state)
    past = await root.get_state(HistoryState)
    await run(HistoryState.load_history, past)
    await run(HistoryState.use_prompt, past, past.jobs[0].id)
    editor = await root.get_state(StudioState)
    assert editor.prompt_id == prompt.id and editor.reuses_prompt and not editor.prompt_favourite

    await run(LibraryState.star, state, prompt.id, True)
    assert state.hits[0].favourite and past.jobs[0].favourite and editor.prompt_favourite
    await run(LibraryState.toggle_favourites, state)
    await _search(state)
    assert [h.id for h in state.hits] == [prompt.id]
    await run(HistoryState.load_history, past)
    assert past.jobs[0].favourite  # the API's own answer (JobSummary.prompt_favourite)

    await run(LibraryState.star, state, prompt.id, False)  # e.g. the editor's star
    assert not state.hits[0].favourite and not past.jobs[0].favourite and not editor.prompt_favourite
    assert state.hits  # unstarred under Favourites: it stays until the next search
    await _search(state)
    assert state.hits == [] and state.empty_text == "No favourites yet — star a prompt"
    events = await run(LibraryState.star, state, 999_999, True)
    assert "Could not star prompt #999999" in str(events[0])


async def test_generate_reuses_a_loaded_prompt(root, wired, api, db, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Generate sends the loaded prompt's id (no new prompt), and a changed text makes a new one."""
    monkeypatch.setattr(studio, "POLL_S", 0.05)
    prompt = await _prompt(api, "oboe at dawn", mood="calm")
    make_clips(db, settings, prompt.id, n=1)
    state = await root.get_state(LibraryState)
    await _search(state)
    await run(LibraryState.load_prompt, state, prompt.id)
    editor = await root.get_state(StudioState)
    editor.duration = "0.5"

    async def generate_and_cancel() -> schemas.JobSummary:
        task = asyncio.create_task(run(StudioState.generate, editor))
        for _ in range(200):  # no worker in this app: the job waits in the queue until cancelled
            jobs = (await api.list_jobs(limit=1)).items
            if jobs and jobs[0].status == "queued" and editor.job_id == jobs[0].id:
                await api.cancel_job(jobs[0].id)
                break
            await asyncio.sleep(0.02)
        await asyncio.wait_for(task, 30)
        return (await api.list_jobs(limit=1)).items[0]

    job = await generate_and_cancel()
    assert job.prompt.id == prompt.id and (await api.search_prompts(schemas.PromptQuery())).total == 1
    await run(StudioState.set_text, editor, "oboe at dusk")
    job = await generate_and_cancel()
    assert job.prompt.id != prompt.id and editor.prompt_id == job.prompt.id and editor.reuses_prompt
    assert (await api.search_prompts(schemas.PromptQuery())).total == 2


async def test_templates_apply_fill_save_and_refusals(root, wired, api) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(TemplateState)
    await run(TemplateState.load_templates, state)
    assert state.loaded and not state.error
    for item in list(state.templates):  # a fresh install's built-ins: removable
        await run(TemplateState.ask_delete, state, item.id)
        await run(TemplateState.delete, state)
    assert state.templates == []

    editor = await root.get_state(StudioState)
    editor.text, editor.style, editor.tempo, editor.mood = "lo-fi beat in {key} at {tempo} bpm", "lo-fi", "80", "calm"
    await run(TemplateState.open_save, state)
    assert state.edit_open and state.edit_text == editor.text and state.edit_placeholders == "{key}, {tempo}"
    await run(TemplateState.set_edit_name, state, "Lo-fi in a key")
    await run(TemplateState.save, state)
    assert not state.edit_open and [t.name for t in state.templates] == ["Lo-fi in a key"]
    saved = state.templates[0]
    assert saved.placeholders == ["key", "tempo"] and saved.attributes == "lo-fi · 80 BPM · calm"

    await run(TemplateState.open_save, state)
    await run(TemplateState.set_edit_name, state, "lo-fi in a key")
    await run(TemplateState.save, state)
    assert state.edit_open and state.edit_error == NAME_TAKEN  # names are unique (409)
    await run(TemplateState.set_edit_name, state, "Broken")
    await run(TemplateState.set_edit_text, state, "a {bad name} here")
    await run(TemplateState.save, state)
    assert state.edit_open and "placeholder" in state.edit_error  # the same rule the API answers 422 with
    await run(TemplateState.set_edit_open, state, False)

    editor.text, editor.style, editor.tempo, editor.mood = "", "", "120", ""
    template_id = state.templates[0].id
    await run(TemplateState.apply, state, template_id)
    assert state.fill_open and state.fill_names == ["key", "tempo"] and not state.can_fill and editor.text == ""
    await run(TemplateState.set_fill_value, state, 0, "A minor")
    assert not state.can_fill and state.fill_preview == "lo-fi beat in A minor at {tempo} bpm"
    await run(TemplateState.set_fill_value, state, 1, "72")
    await run(TemplateState.apply_filled, state)
    assert not state.fill_open
    assert (editor.text, editor.style, editor.tempo, editor.mood) == ("lo-fi beat in A minor at 72 bpm", "lo-fi", "80",
                                                                      "calm")

    await run(TemplateState.open_edit, state, template_id)
    await run(TemplateState.set_edit_name, state, "Lo-fi, any key")
    await run(TemplateState.set_edit_text, state, "lo-fi beat in {key}")
    await run(TemplateState.save, state)
    assert [(t.name, t.placeholders) for t in state.templates] == [("Lo-fi, any key", ["key"])]
    assert state.templates[0].attributes == "lo-fi · 80 BPM · calm"  # attributes kept unless asked


async def test_raters_are_refused_template_writes(root, wired, app, rater) -> None:  # type: ignore[no-untyped-def]
    as_rater = ApiClient("http://test/api", token=rater.token, transport=httpx.ASGITransport(app=app))
    state = await root.get_state(TemplateState)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(templates, "api_client", lambda *_: as_rater)
        editor = await root.get_state(StudioState)
        editor.text = "a rater's idea"
        await run(TemplateState.open_save, state)
        await run(TemplateState.set_edit_name, state, "mine")
        await run(TemplateState.save, state)
    assert state.edit_open and state.edit_error  # the API's 403, said in the dialog
