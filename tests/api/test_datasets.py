from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.factories import make_clips, make_lora_dir
from training_dashboard.db.models import Preference, Rating


@pytest.fixture
async def seeded(client, db, settings):
    """Ratings over two adapters (base and one LoRA), tags and three distinct days."""
    root = settings.resolved_adapter_roots[0]
    make_lora_dir(root, "lora-a")
    adapter = (await client.post("/adapters", json={"name": "lora-a", "version": "1.0.0", "path": "lora-a",
                                                    "is_active": True})).json()
    pid = (await client.post("/prompts", json={"text": "synthwave", "attributes": {"tempo": 100}})).json()["id"]
    base_clips = make_clips(db, settings, pid, n=3)
    lora_clips = make_clips(db, settings, pid, n=2, adapter_id=adapter["id"])
    plan = [  # (clip, rating, tags, day)
        (base_clips[0], 5, ["bright", "warm"], 1), (base_clips[0], 4, ["warm"], 2), (base_clips[1], 4, [], 3),
        (base_clips[1], 2, ["noisy"], 1), (base_clips[2], 3, ["warm", "noisy"], 2), (lora_clips[0], 5, ["bright"], 3),
        (lora_clips[0], 4, ["noisy"], 3), (lora_clips[1], 1, [], 1), (lora_clips[1], 5, ["warm"], 2),
    ]
    for clip, rating, tags, day in plan:
        r = (await client.post("/feedback", json={"audio_id": clip, "rating": rating, "tags": tags})).json()
        with db.write_session() as s:
            s.execute(update(Rating).where(Rating.id == r["id"])
                      .values(created_at=datetime(2026, 3, day, 12, tzinfo=UTC)))
    prefs = [(base_clips[0], base_clips[1]), (base_clips[2], base_clips[0]), (lora_clips[0], lora_clips[1]),
             (lora_clips[0], base_clips[1])]
    for chosen, rejected in prefs:
        await client.post("/preferences", json={"chosen_id": chosen, "rejected_id": rejected})
    await client.post("/preferences", json={"chosen_id": base_clips[0], "rejected_id": base_clips[2], "tie": True})
    with db.write_session() as s:
        s.execute(update(Preference).values(created_at=datetime(2026, 3, 2, 9, tzinfo=UTC)))
    return {"adapter_id": adapter["id"], "base": base_clips, "lora": lora_clips}


def _rows(export_path: str) -> list[dict]:
    return [json.loads(line) for line in (Path(export_path) / "manifest.jsonl").read_text().splitlines()]


FILTERS = [  # (filter, expected count) over the seeded plan
    ({}, 9),
    ({"min_rating": 4}, 6),
    ({"max_rating": 2}, 2),
    ({"required_tags": ["warm"]}, 4),
    ({"required_tags": ["warm", "noisy"]}, 1),
    ({"excluded_tags": ["noisy"]}, 6),
    ({"adapter_id": "base"}, 5),
    ({"adapter_id": "ADAPTER"}, 4),
    ({"start_date": "2026-03-02"}, 6),
    ({"end_date": "2026-03-01"}, 3),
    ({"start_date": "2026-03-02", "end_date": "2026-03-02"}, 3),
    ({"min_rating": 4, "required_tags": ["warm"], "adapter_id": "base", "start_date": "2026-03-01"}, 2),
]


@pytest.mark.parametrize(("flt", "expected"), FILTERS, ids=[json.dumps(f) for f, _ in FILTERS])
async def test_preview_equals_snapshot_equals_export(client, seeded, flt, expected):
    flt = {k: (seeded["adapter_id"] if v == "ADAPTER" else v) for k, v in flt.items()}
    preview = (await client.post("/datasets/preview", json={"type": "supervised", "filter": flt})).json()["count"]
    assert preview == expected
    created = await client.post("/datasets", json={"name": "ds", "type": "supervised", "filter": flt})
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert dataset["sample_count"] == preview
    export = (await client.post(f"/datasets/{dataset['id']}/export", json={"format": "jsonl"})).json()
    rows = _rows(export["export_path"])
    assert len(rows) == export["sample_count"] == preview
    for row in rows:  # every filter field really filtered
        if "min_rating" in flt:
            assert row["rating"] >= flt["min_rating"]
        if "max_rating" in flt:
            assert row["rating"] <= flt["max_rating"]
        assert set(flt.get("required_tags", [])) <= set(row["tags"])
        assert not set(flt.get("excluded_tags", [])) & set(row["tags"])
        if flt.get("adapter_id") == "base":
            assert row["adapter"] == "base"
        elif "adapter_id" in flt:
            assert row["adapter"] == "lora-a@1.0.0"
        assert (Path(export["export_path"]) / row["audio"]).is_file()


async def test_preference_dataset(client, seeded):
    count = (await client.post("/datasets/preview", json={"type": "preference"})).json()["count"]
    assert count == 4  # ties excluded
    base_only = {"type": "preference", "filter": {"adapter_id": "base"}}
    assert (await client.post("/datasets/preview", json=base_only)).json()["count"] == 2
    ds = (await client.post("/datasets", json={"name": "prefs", **base_only})).json()
    assert ds["sample_count"] == 2
    export = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "jsonl"})).json()
    rows = _rows(export["export_path"])
    assert len(rows) == 2 and all({"prompt", "chosen", "rejected"} <= set(r) for r in rows)
    assert export["train_command"].startswith("python -m training_dashboard.training dpo --data ")
    dated = {"type": "preference", "filter": {"start_date": "2026-03-03"}}
    assert (await client.post("/datasets/preview", json=dated)).json()["count"] == 0
    r = await client.post("/datasets/preview", json={"type": "preference", "filter": {"min_rating": 4}})
    assert r.status_code == 400 and "supervised" in r.json()["detail"]


async def test_snapshot_is_frozen_and_export_hash_stable(client, seeded):
    ds = (await client.post("/datasets", json={"name": "frozen", "filter": {"min_rating": 4}})).json()
    first = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "jsonl"})).json()
    await client.post("/feedback", json={"audio_id": seeded["base"][2], "rating": 5})  # arrives later
    assert (await client.post("/datasets/preview", json={"filter": {"min_rating": 4}})).json()["count"] == 7
    second = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "jsonl"})).json()
    assert second["sample_count"] == first["sample_count"] == 6
    assert second["manifest_sha256"] == first["manifest_sha256"]
    again = (await client.get(f"/datasets/{ds['id']}")).json()
    assert again["sample_count"] == 6 and len(again["exports"]) == 1
    assert again["exports"][0]["manifest_sha256"] == first["manifest_sha256"]


async def test_dataset_stats_list_and_delete(client, seeded, settings):
    ds = (await client.post("/datasets", json={"name": "all", "description": "everything"})).json()
    stats = (await client.get(f"/datasets/{ds['id']}/stats")).json()
    assert stats["sample_count"] == 9 and stats["unique_prompts"] == 1
    assert stats["rating_distribution"] == {"1": 1, "2": 1, "3": 1, "4": 3, "5": 3}
    assert stats["samples_by_adapter"] == {"base": 5, "lora-a@1.0.0": 4}
    assert stats["tag_frequencies"] == {"warm": 4, "noisy": 3, "bright": 2}
    await client.post("/datasets", json={"name": "second"})
    page = (await client.get("/datasets", params={"limit": 1})).json()
    assert page["total"] == 2 and page["items"][0]["name"] == "second"
    export = (await client.post(f"/datasets/{ds['id']}/export", json={})).json()
    assert Path(export["export_path"]).is_dir()
    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 204
    assert not Path(export["export_path"]).exists()
    assert (await client.get(f"/datasets/{ds['id']}")).status_code == 404
    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 404


async def test_delete_refused_while_an_adapter_was_trained_on_it(client, seeded, settings):
    ds = (await client.post("/datasets", json={"name": "trained-on"})).json()
    make_lora_dir(settings.resolved_adapter_roots[0], "from-ds")
    r = await client.post("/adapters", json={"name": "from-ds", "path": "from-ds", "dataset_id": ds["id"]})
    assert r.status_code == 201
    r = await client.delete(f"/datasets/{ds['id']}")
    assert r.status_code == 409 and "from-ds" in r.json()["detail"]


async def test_dataset_bad_input(client, seeded):
    assert (await client.post("/datasets", json={"name": "dup"})).status_code == 201
    r = await client.post("/datasets", json={"name": "dup"})
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    for body in ({"name": ""}, {"name": "../../etc"}, {"name": "a" * 101}, {"name": "x", "type": "rl"},
                 {"name": "x", "filter": {"min_rating": 0}},
                 {"name": "x", "filter": {"min_rating": 5, "max_rating": 2}},
                 {"name": "x", "filter": {"start_date": "2026-03-05", "end_date": "2026-03-01"}},
                 {"name": "x", "filter": {"required_tags": ["a"], "excluded_tags": ["a"]}},
                 {"name": "x", "filter": {"adapter_id": "other"}}, {"name": "x", "filter": {"bogus": 1}}):
        r = await client.post("/datasets", json=body)
        assert r.status_code == 422, body
        assert r.json()["detail"]
    r = await client.post("/datasets", json={"name": "x", "filter": {"adapter_id": 999}})
    assert r.status_code == 404
    empty = (await client.post("/datasets", json={"name": "empty", "filter": {"required_tags": ["nope"]}})).json()
    assert empty["sample_count"] == 0
    r = await client.post(f"/datasets/{empty['id']}/export", json={"format": "jsonl"})
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    assert (await client.post(f"/datasets/{empty['id']}/export", json={"format": "csv"})).status_code == 422
    assert (await client.post("/datasets/999/export", json={})).status_code == 404
    assert (await client.get("/datasets/999/stats")).status_code == 404


async def test_delete_removes_every_export_directory_of_the_dataset(client, seeded, settings):
    ds = (await client.post("/datasets", json={"name": "Leftovers"})).json()
    other = (await client.post("/datasets", json={"name": "kept"})).json()
    kept = (await client.post(f"/datasets/{other['id']}/export", json={})).json()["export_path"]
    export = (await client.post(f"/datasets/{ds['id']}/export", json={})).json()["export_path"]
    # What a crash can leave: an export that never got its row, and a swapped-out old copy.
    unrecorded = settings.exports_dir / f"{ds['id']}-Leftovers-huggingface"
    swapped = settings.exports_dir / f".old-{'d' * 32}-{ds['id']}-Leftovers-jsonl"
    for path in (unrecorded, swapped):
        path.mkdir()
        (path / "manifest.jsonl").write_text("{}\n")
    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 204
    assert not Path(export).exists() and not unrecorded.exists() and not swapped.exists()
    assert sorted(p.name for p in settings.exports_dir.iterdir()) == [".exporting.lock", ".locks", Path(kept).name]


async def test_delete_waits_for_a_running_export_then_answers_409(client, seeded, settings, monkeypatch):
    from training_dashboard.services import datasets as datasets_service
    from training_dashboard.services.dataset_lock import dataset_lock

    ds = (await client.post("/datasets", json={"name": "busy"})).json()
    export = (await client.post(f"/datasets/{ds['id']}/export", json={})).json()["export_path"]
    monkeypatch.setattr(datasets_service, "DELETE_WAIT_S", 0.3)
    with dataset_lock(settings.exports_dir, ds["id"], 1, "test holds it"):  # what a running export holds
        r = await client.delete(f"/datasets/{ds['id']}")
        assert r.status_code == 409 and "being exported" in r.json()["detail"]
        assert (await client.get(f"/datasets/{ds['id']}")).status_code == 200 and Path(export).is_dir()
    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 204
    r = await client.post(f"/datasets/{ds['id']}/export", json={"format": "huggingface"})
    assert r.status_code == 404 and not Path(export).exists()
