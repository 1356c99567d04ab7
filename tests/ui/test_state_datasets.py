from __future__ import annotations

import asyncio

import pytest

from tests.factories import make_clips
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.state import datasets
from training_dashboard.state.datasets import NAME_HINT, DatasetsState


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


async def test_setters_ask_for_a_preview(root) -> None:  # type: ignore[no-untyped-def]
    ds = await root.get_state(DatasetsState)
    assert await run(DatasetsState.set_min_rating, ds, [2.0]) == [DatasetsState.refresh_preview]
    assert ds.min_rating == 2
    assert await run(DatasetsState.set_name, ds, "x") == []  # the name does not change the count


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

    monkeypatch.setattr(datasets, "api_client", lambda: ApiClient("http://127.0.0.1:9/api", timeout=2))
    ds = await root.get_state(DatasetsState)
    events = await run(DatasetsState.load_datasets, ds)
    assert len(events) == 1 and "Could not load datasets" in str(events[0])
    assert not ds.loading and not ds.loaded
