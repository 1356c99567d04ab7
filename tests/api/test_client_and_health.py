"""The typed client against the real API, and the health endpoint."""

from __future__ import annotations

import pytest

from tests.factories import make_clips, make_lora_dir
from training_dashboard import schemas
from training_dashboard.client import ApiClient, ApiError


async def test_client_walks_the_loop(api: ApiClient, db, settings):
    prompt = await api.create_prompt(schemas.PromptCreate(text="bossa nova", attributes=schemas.PromptAttributes(
        tempo=120, instruments=["guitar"])))
    ids = make_clips(db, settings, prompt.id, n=2)
    detail = await api.get_prompt(prompt.id)
    assert isinstance(detail, schemas.PromptDetail) and len(detail.samples) == 2
    assert (await api.search_prompts(schemas.PromptQuery())).total == 1
    job = await api.generate(schemas.GenerateRequest(prompt_id=prompt.id, num_samples=2, seed=3))
    assert (await api.get_job(job.id)).status == "queued"
    assert (await api.cancel_job(job.id)).status == "cancelled"
    meta = await api.get_audio(ids[0])
    assert meta.prompt.text == "bossa nova"
    assert len(await api.stream_audio(ids[0], (0, 43))) == 44
    fb = await api.submit_feedback(schemas.FeedbackCreate(audio_id=ids[0], rating=5, tags=["groovy"]))
    assert fb.tags == ["groovy"]
    await api.submit_preference(schemas.PreferenceCreate(chosen_id=ids[0], rejected_id=ids[1]))
    assert len(await api.submit_ranking(schemas.RankingCreate(audio_ids=[ids[1], ids[0]]))) == 1
    assert (await api.list_feedback(tags=["groovy"], min_rating=5)).total == 1
    stats = await api.feedback_stats()
    assert stats.total_feedback == 1 and stats.preference_pairs == 2
    flt = schemas.DatasetFilter(min_rating=4)
    assert (await api.preview_dataset(schemas.DatasetPreviewRequest(filter=flt))).count == 1
    ds = await api.create_dataset(schemas.DatasetCreate(name="bossa", filter=flt))
    assert (await api.list_datasets()).items[0].id == ds.id
    assert (await api.dataset_stats(ds.id)).sample_count == 1
    export = await api.export_dataset(ds.id, "jsonl")
    assert export.sample_count == 1 and "--data" in export.train_command
    assert (await api.get_dataset(ds.id)).exports[0].manifest_sha256 == export.manifest_sha256
    make_lora_dir(settings.resolved_adapter_roots[0], "bossa-lora")
    adapter = await api.register_adapter(schemas.AdapterCreate(name="bossa-lora", path="bossa-lora",
                                                               dataset_id=ds.id))
    assert (await api.activate_adapter(adapter.id)).is_active
    assert (await api.list_adapters(status="active")).total == 1
    updated = await api.update_adapter(adapter.id, schemas.AdapterUpdate(description="d"))
    assert updated.description == "d" and updated.dataset_name == "bossa"
    assert not (await api.deactivate_adapter(adapter.id)).is_active
    await api.delete_adapter(adapter.id)
    await api.delete_dataset(ds.id)
    assert (await api.health()).database is True


async def test_client_errors_carry_status_and_message(api: ApiClient):
    with pytest.raises(ApiError) as err:
        await api.get_dataset(12345)
    assert err.value.status == 404 and "not found" in err.value.message
    with pytest.raises(ApiError) as err:
        await api.create_dataset(schemas.DatasetCreate.model_construct(name="", type="supervised",
                                                                       filter=schemas.DatasetFilter()))
    assert err.value.status == 422 and "name" in err.value.message


async def test_client_unreachable_api():
    async with ApiClient("http://127.0.0.1:9/api", timeout=2) as api:
        with pytest.raises(ApiError) as err:
            await api.health()
    assert err.value.status == 0 and "Cannot reach" in err.value.message


async def test_health_reports_database_and_model(client, settings):
    health = (await client.get("/health")).json()
    assert health["database"] is True and health["version"]
    assert health["model"]["base_model"] == "tiny"


async def test_openapi_served_under_api(client):
    spec = (await client.get("/openapi.json")).json()
    assert "/api/datasets/preview" in spec["paths"] and "/api/feedback/stats" in spec["paths"]


def test_suite_runs_on_the_configured_database(db):
    import os

    expected = "postgresql" if os.environ.get("TD_TEST_DATABASE_URL") else "sqlite"
    assert db.engine.dialect.name == expected
