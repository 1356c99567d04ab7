from __future__ import annotations

from tests.factories import make_clips
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.state.api import audio_src, parse_tags
from training_dashboard.state.stats import StatsState
from training_dashboard.state.studio import Clip, StudioState, prompt_problem


def test_prompt_problem() -> None:
    assert prompt_problem("x", "120", "5") == ""
    assert prompt_problem("x", "", "5") == ""  # tempo is optional
    assert "limit is 2000" in prompt_problem("x" * 2001, "120", "5")
    assert "Tempo" in prompt_problem("x", "39", "5") and "Tempo" in prompt_problem("x", "12.5", "5")
    assert "Duration" in prompt_problem("x", "120", "0") and "Duration" in prompt_problem("x", "120", "31")


def test_audio_src_is_absolute_for_the_browser() -> None:
    assert audio_src("/api/audio/3/stream").endswith("/api/audio/3/stream")
    assert audio_src("/api/audio/3/stream").startswith("http")
    assert audio_src("https://cdn.example/a.wav?sig=1") == "https://cdn.example/a.wav?sig=1"
    assert parse_tags(" Warm, lo-fi;warm,, ") == ["lo-fi", "warm"]


async def test_generate_disabled_while_invalid(root) -> None:  # type: ignore[no-untyped-def]
    studio = await root.get_state(StudioState)
    assert not studio.can_generate  # empty prompt
    studio.text = "calm piano"
    assert studio.can_generate and studio.char_count == "10 / 2000"
    studio.tempo = "300"
    assert not studio.can_generate and "Tempo" in studio.form_problem
    studio.tempo, studio.text = "90", "y" * 2001
    assert studio.over_limit and not studio.can_generate
    await run(StudioState.set_num_samples, studio, ["3"])
    assert studio.num_samples == "3"


async def test_request_carries_the_chosen_adapter(root) -> None:  # type: ignore[no-untyped-def]
    studio = await root.get_state(StudioState)
    studio.text, studio.instruments, studio.adapter_choice = "calm", "piano, , drums", "4"
    prompt, count, adapter_id, seconds = studio._request_parts()
    assert (prompt.attributes.instruments, count, adapter_id, seconds) == (["piano", "drums"], 2, 4, 5.0)
    studio.adapter_choice = "base"
    assert studio._request_parts()[2] is None


async def test_rating_updates_readiness(root, transport, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="x"))
    ids = make_clips(db, settings, prompt.id, n=2)
    studio = await root.get_state(StudioState)
    studio.clips = [Clip(id=i, label=label, seed=1, adapter_label="base", src="", duration=0.5)
                    for i, label in zip(ids, "AB", strict=True)]
    events = await run(StudioState.submit_feedback, studio, 0)
    assert "first" in str(events[0]) and not studio.clips[0].submitted  # no rating chosen yet
    await run(StudioState.set_rating, studio, 0, "5")
    await run(StudioState.toggle_tag, studio, 0, "calm")
    await run(StudioState.set_free_tags, studio, 0, "Warm, lo-fi")
    await run(StudioState.submit_feedback, studio, 0)
    assert studio.clips[0].submitted
    saved = (await api.list_feedback(audio_id=ids[0])).items[0]
    assert (saved.rating, saved.tags) == (5, ["calm", "lo-fi", "warm"])
    stats = await root.get_state(StatsState)
    assert stats.readiness_text == "4 more ratings needed for training"  # threshold 5 in the test settings

    await run(StudioState.submit_preference, studio, "b")
    assert studio.pref_result == "B preferred over A" and stats.preference_pairs == 1
    studio.pref_b = "A"
    events = await run(StudioState.submit_preference, studio, "tie")
    assert "two different clips" in str(events[0])
