from __future__ import annotations

import os

from tests.factories import make_clips, make_lora_dir
from training_dashboard.services import jobs


async def test_register_reads_base_model_and_lists(client, settings):
    root = settings.resolved_adapter_roots[0]
    make_lora_dir(root, "warm")
    r = await client.post("/adapters", json={"name": "warm", "version": "1.0.0", "path": str(root / "warm"),
                                             "description": "warmer pads", "training_config": {"r": 4}})
    assert r.status_code == 201, r.text
    adapter = r.json()
    assert adapter["base_model"] == "tiny" and adapter["is_active"] is False and adapter["compatible"] is True
    assert adapter["path"] == str(root / "warm")
    make_lora_dir(root, "cold", base_model="other/model")
    await client.post("/adapters", json={"name": "cold", "path": "cold", "is_active": True})
    assert (await client.get("/adapters")).json()["total"] == 2
    active = (await client.get("/adapters", params={"status": "active"})).json()
    assert [a["name"] for a in active["items"]] == ["cold"] and active["items"][0]["compatible"] is False
    assert [a["name"] for a in (await client.get("/adapters", params={"status": "inactive"})).json()["items"]] == [
        "warm"]
    assert (await client.get("/adapters", params={"base_model": "tiny"})).json()["total"] == 1
    assert (await client.get("/adapters", params={"status": "broken"})).status_code == 422


async def test_duplicate_version_names_next_free(client, settings):
    make_lora_dir(settings.resolved_adapter_roots[0], "dup")
    body = {"name": "dup", "version": "1.2.0", "path": "dup"}
    assert (await client.post("/adapters", json=body)).status_code == 201
    assert (await client.post("/adapters", json={**body, "version": "1.2.1"})).status_code == 201
    r = await client.post("/adapters", json=body)
    assert r.status_code == 409 and "1.2.2" in r.json()["detail"]
    assert (await client.post("/adapters", json={**body, "version": "v1"})).status_code == 422


async def test_path_confinement(client, settings, tmp_path):
    root = settings.resolved_adapter_roots[0]
    outside = make_lora_dir(tmp_path / "elsewhere", "evil")
    cases = [str(outside), "../../elsewhere/evil", str(root / ".." / ".." / "elsewhere" / "evil")]
    os.symlink(outside, root / "link")
    cases.append("link")
    cases.append(str(root / "link"))
    for path in cases:
        r = await client.post("/adapters", json={"name": "evil", "path": path})
        assert r.status_code == 400, path
        assert "outside the adapter roots" in r.json()["detail"]
    assert (await client.post("/adapters", json={"name": "evil", "path": "a\x00b"})).status_code == 400


async def test_register_rejects_non_adapters(client, settings):
    root = settings.resolved_adapter_roots[0]
    (root / "empty").mkdir()
    r = await client.post("/adapters", json={"name": "x", "path": "empty"})
    assert r.status_code == 400 and "adapter_config.json" in r.json()["detail"]
    corrupt = make_lora_dir(root, "corrupt")
    (corrupt / "adapter_config.json").write_text("{not json")
    r = await client.post("/adapters", json={"name": "x", "path": "corrupt"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    make_lora_dir(root, "noop", zero_b=True)
    r = await client.post("/adapters", json={"name": "x", "path": "noop"})
    assert r.status_code == 400 and "no-op" in r.json()["detail"]
    r = await client.post("/adapters", json={"name": "x", "path": "does-not-exist"})
    assert r.status_code == 400
    r = await client.post("/adapters", json={"name": "x", "path": "noop", "dataset_id": 5})
    assert r.status_code == 400  # the weight check runs before the dataset lookup


async def test_usage_stats_activation_and_delete(client, db, settings):
    make_lora_dir(settings.resolved_adapter_roots[0], "u")
    adapter = (await client.post("/adapters", json={"name": "u", "path": "u"})).json()
    aid = adapter["id"]
    pid = (await client.post("/prompts", json={"text": "piano"})).json()["id"]
    base = make_clips(db, settings, pid, n=2)
    mine = make_clips(db, settings, pid, n=3, adapter_id=aid)
    for audio_id, rating in ((mine[0], 5), (mine[1], 4), (base[0], 2)):
        await client.post("/feedback", json={"audio_id": audio_id, "rating": rating})
    await client.post("/preferences", json={"chosen_id": mine[0], "rejected_id": base[0]})
    await client.post("/preferences", json={"chosen_id": mine[1], "rejected_id": base[1]})
    await client.post("/preferences", json={"chosen_id": base[0], "rejected_id": mine[2]})
    await client.post("/preferences", json={"chosen_id": mine[0], "rejected_id": mine[1]})  # self-pair: ignored
    usage = (await client.get(f"/adapters/{aid}")).json()["usage"]
    assert usage == {"samples_generated": 3, "ratings": 2, "average_rating": 4.5, "preference_wins": 2,
                     "preference_losses": 1, "preference_win_rate": 0.667}
    r = await client.post(f"/adapters/{aid}/activate")
    assert r.json()["is_active"] is True
    r = await client.patch(f"/adapters/{aid}", json={"description": "better piano"})
    assert r.json()["description"] == "better piano" and r.json()["is_active"] is True
    assert (await client.post(f"/adapters/{aid}/deactivate")).json()["is_active"] is False
    assert (await client.patch(f"/adapters/{aid}", json={"is_active": "maybe"})).status_code == 422
    await client.post(f"/adapters/{aid}/activate")
    job = (await client.post("/generate", json={"prompt_id": pid, "adapter_id": aid})).json()
    r = await client.delete(f"/adapters/{aid}")
    assert r.status_code == 409 and "queued or running" in r.json()["detail"]
    jobs.cancel_job(db, job["id"])
    assert (await client.delete(f"/adapters/{aid}")).status_code == 204
    assert (await client.get(f"/adapters/{aid}")).status_code == 404
    stats = (await client.get("/feedback/stats")).json()  # feedback survives the adapter
    assert stats["samples_by_adapter"] == {"base": 1, f"adapter #{aid} (deleted)": 2}
    assert (await client.post(f"/adapters/{aid}/activate")).status_code == 404
