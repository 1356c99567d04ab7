"""The dataset delete confirmation on /training, against the real in-process API: a refusal for
active training runs is shown in the dialog, which then offers "Cancel the runs and delete"."""

from __future__ import annotations

from tests.factories import make_clips
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.state.dataset_rows import dataset_row
from training_dashboard.state.datasets import DatasetsState


async def _dataset_with_a_queued_run(api, db, settings) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="calm piano"))
    for audio_id in make_clips(db, settings, prompt.id, n=3):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=5))
    dataset = await api.create_dataset(schemas.DatasetCreate(name="good"))
    queued = await api.create_run(schemas.RunCreate(dataset_id=dataset.id, task="sft", preset="quick"))
    return dataset.id, queued.id


async def test_refusal_offers_cancel_runs_then_deletes(root, transport, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    dataset_id, run_id = await _dataset_with_a_queued_run(api, db, settings)
    ds = await root.get_state(DatasetsState)
    ds.datasets = [dataset_row(d) for d in (await api.list_datasets()).items]
    await run(DatasetsState.open_delete, ds, dataset_id)
    assert (ds.delete_id, ds.delete_name, ds.delete_error, ds.delete_offers_cancel) == (dataset_id, "good", "", False)

    await run(DatasetsState.delete_dataset, ds, False)
    assert ds.delete_error == (f"Dataset {dataset_id} has active training runs: #{run_id} (queued); cancel them "
                               "first or delete with ?cancel_runs=true")
    assert ds.delete_offers_cancel and ds.delete_id == dataset_id and not ds.deleting  # the dialog stays open
    assert [d.id for d in ds.datasets] == [dataset_id] and (await api.get_run(run_id)).status == "queued"

    events = await run(DatasetsState.delete_dataset, ds, True)
    assert "deleted" in str(events[-1])
    assert ds.datasets == [] and ds.delete_id == 0 and not ds.delete_offers_cancel and not ds.deleting
    assert (await api.get_run(run_id)).status == "cancelled"
    assert f"DELETE /api/datasets/{dataset_id}" in transport.paths


async def test_plain_delete_and_closing(root, transport, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="calm piano"))
    for audio_id in make_clips(db, settings, prompt.id, n=2):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=5))
    dataset = await api.create_dataset(schemas.DatasetCreate(name="plain"))
    ds = await root.get_state(DatasetsState)
    ds.datasets = [dataset_row(d) for d in (await api.list_datasets()).items]
    await run(DatasetsState.open_delete, ds, dataset.id)
    await run(DatasetsState.set_delete_open, ds, False)  # "Keep it"
    assert ds.delete_id == 0 and [d.id for d in ds.datasets] == [dataset.id]
    await run(DatasetsState.delete_dataset, ds, False)  # nothing open: nothing sent
    assert not any(p.startswith("DELETE") for p in transport.paths)
    await run(DatasetsState.open_delete, ds, dataset.id)
    await run(DatasetsState.delete_dataset, ds, False)
    assert ds.datasets == [] and ds.delete_id == 0 and ds.delete_error == ""
    await run(DatasetsState.open_delete, ds, dataset.id)  # already gone (another tab): the 404 is shown
    await run(DatasetsState.delete_dataset, ds, False)
    assert "not found" in ds.delete_error and not ds.delete_offers_cancel
