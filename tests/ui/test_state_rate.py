"""UI states of issue 11 (raters, /rate, History, Data quality) on the real in-process API."""

from __future__ import annotations

import pytest

from tests.factories import make_clips, make_lora_dir
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state import history, quality, rate, rater
from training_dashboard.state.history import HistoryState, editor_fields
from training_dashboard.state.quality import QualityState
from training_dashboard.state.rate import RateState, attributes_text
from training_dashboard.state.rater import RaterState, rater_problem
from training_dashboard.state.studio import Clip, StudioState


@pytest.fixture
def wired(transport, monkeypatch):  # type: ignore[no-untyped-def]
    for module in (rater, rate, history, quality):
        monkeypatch.setattr(module, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    return transport


def test_rater_problem_and_attributes_text() -> None:
    assert rater_problem("", []) == "" and rater_problem("Ana", ["Bo"]) == ""
    assert "already on the list" in rater_problem(" ana ", ["Ana"])
    assert "letters" in rater_problem("../x", [])
    attrs = schemas.PromptAttributes(style="jazz", tempo=90, instruments=["piano", "bass"], mood="calm")
    assert attributes_text(attrs) == "jazz · 90 BPM · piano, bass · calm"
    assert attributes_text(schemas.PromptAttributes()) == ""


async def test_add_choose_and_forget_unknown_rater(root, wired) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(RaterState)
    assert state.current_id == 0
    state.new_name = "Ana"
    assert state.can_add
    events = await run(RaterState.add_rater, state)
    assert state.raters[0].name == "Ana" and state.new_name == ""
    assert "choose" in str(events[-1])  # add_rater hands over to choose
    await run(RaterState.choose, state, state.raters[0].id, "Ana")
    assert state.current_id == state.raters[0].id and state.rater_name == "Ana" and not state.switching
    state.new_name = "ana"
    assert not state.can_add and "already" in state.name_problem
    state.rater_id = "999"  # e.g. the database was reset since the browser remembered it
    await run(RaterState.load_raters, state)
    # (the signed-in test admin has a rater row of its own, as every user does)
    assert state.current_id == 0 and [r.name for r in state.raters if r.name != "admin"] == ["Ana"]


async def test_rate_page_flow_blind_until_stored(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    make_lora_dir(settings.resolved_adapter_roots[0], "hidden")
    adapter = await api.register_adapter(schemas.AdapterCreate(name="hidden", path="hidden", is_active=True))
    prompt = await api.create_prompt(schemas.PromptCreate(text="harp", attributes=schemas.PromptAttributes(
        style="folk")))
    ids = make_clips(db, settings, prompt.id, n=3, adapter_id=adapter.id)
    who = await root.get_state(RaterState)
    ana = await api.create_rater(schemas.RaterCreate(name="Ana"))
    who.rater_id = str(ana.id)
    page = await root.get_state(RateState)
    await run(RateState.load_next, page)
    assert page.audio_id == ids[0] and page.prompt_text == "harp" and page.prompt_attributes == "folk"
    assert page.left_text == "3 left for you · 0 rated today" and not page.can_submit
    assert "hidden" not in repr(page.dict())  # nothing in the page state names the adapter yet
    await run(RateState.set_rating, page, "9")
    assert page.rating == "" and not page.can_submit
    await run(RateState.set_rating, page, "4")
    await run(RateState.toggle_tag, page, "calm")
    await run(RateState.submit, page)
    assert "4★ saved · made by hidden@1.0.0" in page.last_result
    await run(RateState.load_next, page)
    assert page.audio_id == ids[1] and page.rating == "" and page.tags == []
    assert page.left_text == "2 left for you · 1 rated today"
    saved = (await api.list_feedback(audio_id=ids[0])).items[0]
    assert (saved.rating, saved.tags, saved.rater_id) == (4, ["calm"], ana.id)
    await run(RateState.skip, page)
    await run(RateState.load_next, page)
    assert page.audio_id == ids[2]  # the skipped clip waits
    await run(RateState.skip, page)
    await run(RateState.load_next, page)
    assert page.audio_id == 0 and page.empty
    who.rater_id = ""
    await run(RateState.load_next, page)
    assert page.audio_id == 0 and not page.empty  # nobody chosen: nothing to serve


async def test_history_reproduces_a_job_and_rates(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="brass", attributes=schemas.PromptAttributes(
        style="funk", tempo=110, instruments=["horns", "bass"], mood="bold")))
    ids = make_clips(db, settings, prompt.id, n=2, seed=4242)
    who = await root.get_state(RaterState)
    bo = await api.create_rater(schemas.RaterCreate(name="Bo"))
    state = await root.get_state(HistoryState)
    await run(HistoryState.load_history, state)
    job = state.jobs[0]
    assert [c.id for c in job.clips] == ids and [c.seed for c in job.clips] == [4242, 4243]
    # signed with sign-in on (?exp=&sig=): the browser's <audio> needs no cookie for it
    assert f"/api/audio/{ids[0]}/stream?exp=" in job.clips[0].src and job.adapter_label == "base"
    await run(HistoryState.use_prompt, state, job.id)
    studio = await root.get_state(StudioState)
    assert (studio.text, studio.style, studio.tempo, studio.instruments, studio.mood) == (
        "brass", "funk", "110", "horns, bass", "bold")
    assert (studio.seed, studio.duration, studio.num_samples, studio.adapter_choice) == ("4242", "0.5", "2", "base")
    events = await run(HistoryState.rate_clip, state, ids[1], "5")  # nobody chosen: the picker opens
    assert "open_picker" in str(events[0])
    who.rater_id = str(bo.id)
    await run(HistoryState.rate_clip, state, ids[1], "5")
    assert state.jobs[0].clips[1].rated == "5"
    assert (await api.list_feedback(audio_id=ids[1])).items[0].rater_id == bo.id


def test_editor_fields_random_seed_and_adapter() -> None:
    job = schemas.JobSummary(
        id=1, status="failed", prompt=schemas.PromptPublic(id=1, text="t", attributes=schemas.PromptAttributes(),
                                                           created_at="2026-01-01T00:00:00Z"),
        adapter_id=7, adapter_label="a@1", num_samples=3, params={"duration": 2.5}, audio_ids=[], error="x",
        created_at="2026-01-01T00:00:00Z", finished_at=None)
    fields = editor_fields(job)
    assert (fields["seed"], fields["adapter_choice"], fields["duration"], fields["tempo"]) == ("", "7", "2.5", "")


async def test_studio_sends_the_rater(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="x"))
    ids = make_clips(db, settings, prompt.id, n=2)
    cy = await api.create_rater(schemas.RaterCreate(name="Cy"))
    (await root.get_state(RaterState)).rater_id = str(cy.id)
    studio = await root.get_state(StudioState)
    studio.clips = [Clip(id=i, label=label, seed=1, adapter_label="base", src="", duration=0.5)
                    for i, label in zip(ids, "AB", strict=True)]
    await run(StudioState.set_rating, studio, 0, "3")
    await run(StudioState.submit_feedback, studio, 0)
    await run(StudioState.submit_preference, studio, "a")
    assert (await api.list_feedback(audio_id=ids[0])).items[0].rater_id == cy.id
    raters = {r.name: r for r in await api.list_raters()}
    assert raters["Cy"].rating_count == 1 and raters["Cy"].preference_count == 1


async def test_quality_state(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(QualityState)
    await run(QualityState.load_quality, state)
    assert state.loaded and "Not enough overlap" in state.agreement and state.alpha == "–"
    prompt = await api.create_prompt(schemas.PromptCreate(text="x", attributes=schemas.PromptAttributes(
        style="jazz")))
    ids = make_clips(db, settings, prompt.id, n=2)
    a = await api.create_rater(schemas.RaterCreate(name="A"))
    b = await api.create_rater(schemas.RaterCreate(name="B"))
    for audio_id, (ra, rb) in zip(ids, ((5, 5), (2, 2)), strict=True):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=ra, rater_id=a.id))
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=rb, rater_id=b.id))
    await run(QualityState.load_quality, state)
    assert state.alpha == "1.000" and "over 2 clips rated by 2 raters" in state.agreement
    raters = [r for r in state.raters if r.name != "admin"]  # the signed-in test admin is a rater too
    assert [r.name for r in raters] == ["A", "B"] and raters[0].mean == "3.50"
    assert any("'jazz'" in n for n in state.coverage_notes)
