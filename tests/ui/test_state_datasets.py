from __future__ import annotations

import asyncio
import json

import pytest

from tests.factories import make_clips
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.state import datasets
from training_dashboard.state.datasets import MIN_RATERS_HINT, NAME_HINT, DatasetsState


async def _seed(api, db, settings, ratings: list[int]) -> list[int]:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="calm piano"))
    ids = make_clips(db, settings, prompt.id, n=len(ratings))
    for audio_id, rating in zip(ids, ratings, strict=True):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=rating, tags=["calm"]))
    return ids


async def test_form_validation_and_can_create(root) -> None:  # type: ignore[no-untyped-def]
    ds = await root.get_state(DatasetsState)
    assert ds.validation_error == "" and not ds.can_create  # empty name: not sendable, but no error shown
    ds.name = "!nope"
    assert ds.validation_error == NAME_HINT
    ds.name, ds.required_tags, ds.excluded_tags = "ok", "calm, warm", "Calm"
    assert ds.validation_error == "tags both required and excluded: calm"
    ds.excluded_tags, ds.start_date, ds.end_date = "", "2025-02-01", "2025-01-01"
    assert ds.validation_error == "start_date must not be after end_date"
    ds.end_date, ds.preview_count = "", 3
    assert ds.validation_error == "" and ds.can_create
    ds.preview_count = 0  # nothing matches
    assert not ds.can_create


async def test_filter_maps_every_field(root) -> None:  # type: ignore[no-untyped-def]
    ds = await root.get_state(DatasetsState)
    ds.min_rating, ds.required_tags, ds.excluded_tags = 3, "Warm,calm", "noisy"
    ds.adapter_choice, ds.start_date, ds.end_date = "7", "2025-01-01", "2025-01-31"
    f = ds._filter()
    assert (f.min_rating, f.required_tags, f.excluded_tags, f.adapter_id) == (3, ["calm", "warm"], ["noisy"], 7)
    assert (str(f.start_date), str(f.end_date)) == ("2025-01-01", "2025-01-31")
    ds.adapter_choice = "base"
    assert ds._filter().adapter_id == "base"
    ds.adapter_choice = "any"
    assert ds._filter().adapter_id is None
    ds.rater_ids, ds.min_raters, ds.aggregate = [3, 1], " 2 ", "clip"
    f = ds._filter()
    assert (f.rater_ids, f.min_raters, f.aggregate) == ([1, 3], 2, "clip")
    ds.min_raters = ""  # empty: no constraint
    assert ds._filter().min_raters is None
    # preference pairs: raters, adapter and dates apply; the API refuses the rest, so they are left out
    ds.dataset_type, ds.min_raters = "preference", "2"
    f = ds._filter()
    assert (f.rater_ids, f.min_raters, f.aggregate, f.min_rating, f.required_tags) == ([1, 3], None, "rating", None, [])
    assert (str(f.start_date), str(f.end_date)) == ("2025-01-01", "2025-01-31")


async def test_min_raters_is_validated(root) -> None:  # type: ignore[no-untyped-def]
    ds = await root.get_state(DatasetsState)
    ds.name, ds.preview_count = "ok", 3
    for bad in ("0", "1001", "1.5", "-1", "two", "1e2"):
        ds.min_raters = bad
        assert ds.validation_error == MIN_RATERS_HINT and not ds.can_create, bad
    for good in ("1", "1000", ""):
        ds.min_raters = good
        assert ds.validation_error == "" and ds.can_create, good


async def test_setters_ask_for_a_preview(root) -> None:  # type: ignore[no-untyped-def]
    ds = await root.get_state(DatasetsState)
    assert await run(DatasetsState.set_min_rating, ds, [2.0]) == [DatasetsState.refresh_preview]
    assert ds.min_rating == 2
    assert await run(DatasetsState.set_name, ds, "x") == []  # the name does not change the count
    assert await run(DatasetsState.set_min_raters, ds, "3") == [DatasetsState.refresh_preview]
    assert await run(DatasetsState.set_aggregate, ds, "clip") == [DatasetsState.refresh_preview]
    assert (ds.min_raters, ds.aggregate) == ("3", "clip")
    await run(DatasetsState.set_aggregate, ds, "bogus")
    assert ds.aggregate == "rating"


async def test_preview_is_debounced_and_counts_like_the_api(root, transport, api, db, settings,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(datasets, "PREVIEW_DEBOUNCE_S", 0.05)
    await _seed(api, db, settings, [2, 4, 5])
    ds = await root.get_state(DatasetsState)
    transport.paths.clear()

    async def change(rating: int) -> None:
        ds.min_rating = rating
        await run(DatasetsState.refresh_preview, ds)

    # a burst of three changes: only the last one reaches the API
    await asyncio.gather(change(1), change(3), change(5))
    assert transport.paths.count("POST /api/datasets/preview") == 1
    assert ds.preview_count == 1 and not ds.preview_loading
    assert ds.preview_text == "1 sample matches this filter"

    await change(4)
    assert ds.preview_count == 2 and ds.preview_text == "2 samples match this filter"


async def test_create_closes_form_and_lists_the_snapshot(root, transport, api, db, settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(datasets, "PREVIEW_DEBOUNCE_S", 0)
    await _seed(api, db, settings, [3, 4, 5])
    ds = await root.get_state(DatasetsState)
    await run(DatasetsState.open_form, ds)
    ds.name = "good-ones"
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 2 and ds.can_create
    events = await run(DatasetsState.create_dataset, ds)
    assert not ds.form_open and ds.name == "" and ds.form_error == ""
    assert [(d.name, d.sample_count, d.type) for d in ds.datasets] == [("good-ones", 2, "supervised")]
    assert any("created with 2 samples" in str(e) for e in events)

    # the same name again: the API's message shows in the form, which stays open
    await run(DatasetsState.open_form, ds)
    ds.name = "good-ones"
    await run(DatasetsState.refresh_preview, ds)
    await run(DatasetsState.create_dataset, ds)
    assert ds.form_open and "already exists" in ds.form_error


async def test_export_shows_path_hash_and_command(root, transport, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    await _seed(api, db, settings, [5, 5])
    created = await api.create_dataset(schemas.DatasetCreate(name="x", filter=schemas.DatasetFilter(min_rating=4)))
    ds = await root.get_state(DatasetsState)
    await run(DatasetsState.load_datasets, ds)
    await run(DatasetsState.open_export, ds, created.id)
    assert ds.export_open and ds.export_name == "x" and ds.export_command == ""
    await run(DatasetsState.set_export_format, ds, "bogus")
    assert ds.export_format == "jsonl"
    await run(DatasetsState.export_dataset, ds)
    assert ds.export_count == 2 and len(ds.export_hash) == 64 and ds.export_path
    assert ds.export_path in ds.export_command or "train" in ds.export_command
    assert ds.datasets[0].exported and ds.datasets[0].export_path == ds.export_path


async def test_load_failure_becomes_a_toast(root, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from training_dashboard.client import ApiClient

    monkeypatch.setattr(datasets, "api_client", lambda *_: ApiClient("http://127.0.0.1:9/api", timeout=2))
    ds = await root.get_state(DatasetsState)
    events = await run(DatasetsState.load_datasets, ds)
    assert len(events) == 1 and "Could not load datasets" in str(events[0])
    assert not ds.loading and not ds.loaded


async def _seed_raters(api, db, settings) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    """Raters a, b, c; clip 1 rated 5/4/2 by a/b/c, clip 2 rated 4/5/4 by a/b/c, clip 3 rated 5 by a;
    preferences: a twice, b once, c once."""
    raters = [(await api.create_rater(schemas.RaterCreate(name=n))).id for n in ("alice", "bob", "carol")]
    prompt = await api.create_prompt(schemas.PromptCreate(text="calm piano"))
    clips = make_clips(db, settings, prompt.id, n=3)
    for clip, scores in zip(clips, [(5, 4, 2), (4, 5, 4), (5,)], strict=True):
        for rater, score in zip(raters, scores, strict=False):
            await api.submit_feedback(schemas.FeedbackCreate(audio_id=clip, rating=score, rater_id=rater))
    for rater, (chosen, rejected) in zip([raters[0], raters[0], raters[1], raters[2]],
                                         [(0, 1), (1, 2), (0, 2), (2, 0)], strict=True):
        await api.submit_preference(schemas.PreferenceCreate(chosen_id=clips[chosen], rejected_id=clips[rejected],
                                                             rater_id=rater))
    return raters, clips


def _last_filter(transport, path: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(transport.bodies[path][-1])["filter"]


async def test_rater_fields_reach_preview_and_create(root, transport, api, db, settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(datasets, "PREVIEW_DEBOUNCE_S", 0)
    alice, bob, carol = (await _seed_raters(api, db, settings))[0]
    ds = await root.get_state(DatasetsState)
    assert await run(DatasetsState.open_form, ds) == [DatasetsState.load_raters, DatasetsState.refresh_preview]
    await run(DatasetsState.load_raters, ds)
    # (the signed-in test admin is a rater too, listed first by name)
    assert [(r.id, r.name, r.selected) for r in ds.raters if r.name != "admin"] == [
        (alice, "alice", False), (bob, "bob", False), (carol, "carol", False)]
    assert "GET /api/raters" in transport.paths

    # every rating >= 4 by anyone: 6 ratings
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 6
    # alice and bob only (toggling carol on and off again leaves her out)
    for rater in (alice, bob, carol, carol):
        assert await run(DatasetsState.toggle_rater, ds, rater) == [DatasetsState.refresh_preview]
    assert ds.rater_ids == [alice, bob] and [r.selected for r in ds.raters if r.name != "admin"] == [True, True, False]
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 5  # carol's 4 on clip 2 is left out
    ds.min_raters = "2"  # clip 3 has a single rater
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 4
    ds.aggregate = "clip"  # clips 1 and 2, each with mean 4.5 over alice and bob
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 2 and ds.preview_text == "2 clips match this filter"
    assert _last_filter(transport, "POST /api/datasets/preview") == {
        "min_rating": 4, "max_rating": None, "required_tags": [], "excluded_tags": [], "adapter_id": None,
        "start_date": None, "end_date": None, "rater_ids": [alice, bob], "min_raters": 2, "aggregate": "clip"}
    # without the rater choice, clip 1's mean is 11/3 < 4: only clip 2 is left
    await run(DatasetsState.toggle_rater, ds, alice)
    await run(DatasetsState.toggle_rater, ds, bob)
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 1
    await run(DatasetsState.toggle_rater, ds, alice)
    await run(DatasetsState.toggle_rater, ds, bob)
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 2

    ds.name = "two-raters"
    await run(DatasetsState.create_dataset, ds)
    assert ds.form_error == "" and not ds.form_open
    sent = _last_filter(transport, "POST /api/datasets")
    assert (sent["rater_ids"], sent["min_raters"], sent["aggregate"]) == ([alice, bob], 2, "clip")
    assert [(d.name, d.sample_count) for d in ds.datasets] == [("two-raters", 2)]
    assert "≥ 2 raters" in ds.datasets[0].filter_text and "per clip" in ds.datasets[0].filter_text
    # the form is reset, rater choice included
    assert (ds.rater_ids, ds.min_raters, ds.aggregate) == ([], "", "rating")
    assert not any(r.selected for r in ds.raters)


async def test_preference_form_sends_raters_only(root, transport, api, db, settings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(datasets, "PREVIEW_DEBOUNCE_S", 0)
    alice, bob, _ = (await _seed_raters(api, db, settings))[0]
    ds = await root.get_state(DatasetsState)
    await run(DatasetsState.open_form, ds)
    await run(DatasetsState.load_raters, ds)
    await run(DatasetsState.set_dataset_type, ds, "preference")
    ds.min_raters, ds.aggregate, ds.required_tags = "2", "clip", "calm"  # supervised-only, hidden for pairs
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 4 and ds.form_error == ""
    await run(DatasetsState.toggle_rater, ds, alice)
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 2 and ds.preview_text == "2 preference pairs match this filter"
    sent = _last_filter(transport, "POST /api/datasets/preview")
    assert (sent["rater_ids"], sent["min_raters"], sent["aggregate"], sent["min_rating"]) == (
        [alice], None, "rating", None)
    await run(DatasetsState.toggle_rater, ds, bob)
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 3
    ds.name = "pairs-ab"
    await run(DatasetsState.create_dataset, ds)
    assert ds.form_error == ""
    assert _last_filter(transport, "POST /api/datasets")["rater_ids"] == [alice, bob]
    assert [(d.name, d.sample_count, d.type) for d in ds.datasets] == [("pairs-ab", 3, "preference")]
