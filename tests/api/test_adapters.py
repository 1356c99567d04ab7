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


def _odd_paths(root):  # type: ignore[no-untyped-def]
    """(path as sent, words the 400 must contain) for each way the filesystem refuses a path."""
    (root / "plain-file").write_text("not a directory")
    (root / "parent").mkdir()
    os.symlink(root / "loop", root / "loop")
    os.symlink(root / "ping", root / "pong")
    os.symlink(root / "pong", root / "ping")
    inner = make_lora_dir(root, "inner-loop")
    (inner / "adapter_config.json").unlink()
    os.symlink(inner / "adapter_config.json", inner / "adapter_config.json")
    return [
        ("0" * 999, "component"),  # the review's case: one 999-byte name
        ("a" * 256, "256 bytes"),  # one byte over NAME_MAX
        (f"parent/{'b' * 300}/adapter", "300 bytes"),
        ("é" * 128, "256 bytes"),  # 128 characters, but 256 bytes on disk
        (str(root / ("c" * 400)), "400 bytes"),
        ("plain-file", "not a directory"),
        ("plain-file/adapter", "a part of it is a file"),
        ("plain-file/", "not a directory"),
        ("loop", "loop of symbolic links"),
        ("loop/adapter", "loop of symbolic links"),
        ("ping", "loop of symbolic links"),
        ("inner-loop", "Too many levels of symbolic links"),
        ("does-not-exist", "does not exist"),
        ("parent/../does-not-exist/", "does not exist"),
    ]


async def test_filesystem_refusals_are_400_naming_the_problem(client, settings):
    for path, words in _odd_paths(settings.resolved_adapter_roots[0]):
        r = await client.post("/adapters", json={"name": "a", "version": "1.0.0", "path": path})
        assert r.status_code == 400, (path[:40], r.status_code, r.text)
        detail = r.json()["detail"]
        assert words in detail, (path[:40], detail)
        assert len(detail) < 600, detail  # a 999-character path is shortened, not echoed whole
    assert (await client.get("/adapters")).json()["total"] == 0


async def test_odd_but_valid_spellings_of_an_adapter_path_register(client, settings):
    root = settings.resolved_adapter_roots[0]
    make_lora_dir(root, "ünïcødé ♪")
    (root / "sub").mkdir()
    os.symlink(root / "ünïcødé ♪", root / "sub" / "link")
    for i, path in enumerate(["ünïcødé ♪/", "ünïcødé ♪/.", "./ünïcødé ♪", "sub/../ünïcødé ♪", "sub/link/",
                              f"{root}//ünïcødé ♪"]):
        r = await client.post("/adapters", json={"name": "u", "version": f"1.0.{i}", "path": path})
        assert r.status_code == 201, (path, r.text)
        assert r.json()["path"] == str(root / "ünïcødé ♪")
