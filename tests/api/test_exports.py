from __future__ import annotations

import json
import os
from pathlib import Path

from tests.factories import make_clips
from training_dashboard.services.exports import recover_exports


async def _dataset(client, db, settings, kind="supervised"):
    pid = (await client.post("/prompts", json={"text": "drum and bass", "attributes": {"mood": "tense"}})).json()["id"]
    ids = make_clips(db, settings, pid, n=3)
    for audio_id, rating in zip(ids, (5, 4, 3), strict=True):
        await client.post("/feedback", json={"audio_id": audio_id, "rating": rating, "tags": ["fast"]})
    await client.post("/preferences/ranking", json={"audio_ids": ids})
    return (await client.post("/datasets", json={"name": f"dnb {kind}", "type": kind})).json()


async def test_jsonl_export_layout_and_hard_links(client, db, settings):
    ds = await _dataset(client, db, settings)
    export = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "jsonl"})).json()
    root = Path(export["export_path"])
    assert root.parent == settings.exports_dir
    info = json.loads((root / "td_export.json").read_text())
    assert info["manifest_sha256"] == export["manifest_sha256"] and info["type"] == "supervised"
    rows = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    assert [r["rating"] for r in rows] == [5, 4, 3]
    assert rows[0]["prompt"] == "drum and bass" and rows[0]["attributes"]["mood"] == "tense"
    clip = root / rows[0]["audio"]
    original = settings.resolved_data_dir / "audio" / "factory-1-0.wav"
    assert os.stat(clip).st_ino == os.stat(original).st_ino  # hard link, not a copy
    assert export["train_command"] == (
        f"python -m training_dashboard.training sft --data {export['export_path']} --name dnb-supervised-sft"
    )
    assert not [p for p in settings.exports_dir.iterdir() if p.name.startswith((".tmp-", ".old-"))]  # no temp dirs


async def test_huggingface_export_loads_with_datasets(client, db, settings):
    import datasets

    ds = await _dataset(client, db, settings)
    jsonl = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "jsonl"})).json()
    hf = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "huggingface"})).json()
    assert hf["manifest_sha256"] == jsonl["manifest_sha256"] and hf["sample_count"] == 3
    loaded = datasets.load_from_disk(hf["export_path"])
    assert len(loaded) == 3
    assert isinstance(loaded.features["audio"], datasets.Audio)
    first = loaded.cast_column("audio", datasets.Audio(decode=False))[0]
    assert first["audio"]["bytes"][:4] == b"RIFF" and first["rating"] == 5
    listed = (await client.get(f"/datasets/{ds['id']}")).json()
    assert sorted(e["format"] for e in listed["exports"]) == ["huggingface", "jsonl"]


async def test_preference_export_huggingface(client, db, settings):
    import datasets

    ds = await _dataset(client, db, settings, kind="preference")
    assert ds["sample_count"] == 3
    hf = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "huggingface"})).json()
    loaded = datasets.load_from_disk(hf["export_path"])
    assert {"prompt", "chosen", "rejected"} <= set(loaded.column_names)
    assert isinstance(loaded.features["chosen"], datasets.Audio)


async def test_interrupted_export_recovery(client, db, settings):
    ds = await _dataset(client, db, settings)
    export = (await client.post(f"/datasets/{ds['id']}/export", json={"format": "jsonl"})).json()
    final = Path(export["export_path"])
    # A crash between "move the old export aside" and "move the new one in":
    aside = settings.exports_dir / f".old-{'a' * 32}-{final.name}"
    final.rename(aside)
    half = settings.exports_dir / f".tmp-{'b' * 32}"
    (half / "audio").mkdir(parents=True)
    (half / "manifest.jsonl").write_text('{"partial": tru')
    assert recover_exports(settings.exports_dir) == 2
    assert final.is_dir() and not aside.exists() and not half.exists()
    rows = (final / "manifest.jsonl").read_text().splitlines()
    assert len(rows) == export["sample_count"]


async def test_missing_audio_file_fails_export_cleanly(client, db, settings):
    ds = await _dataset(client, db, settings)
    (settings.resolved_data_dir / "audio" / "factory-1-1.wav").unlink()
    r = await client.post(f"/datasets/{ds['id']}/export", json={"format": "jsonl"})
    assert r.status_code == 400 and "missing" in r.json()["detail"]
    assert sorted(p.name for p in settings.exports_dir.iterdir()) == [".exporting.lock", ".locks"]  # no half export
    assert list((settings.exports_dir / ".locks").iterdir()) == []
    assert (await client.get(f"/datasets/{ds['id']}")).json()["exports"] == []


def test_recovery_leaves_a_live_export_of_another_process_alone(settings):
    import fcntl

    from training_dashboard.services.exports import ACTIVE_LOCK

    settings.ensure_dirs()
    live = settings.exports_dir / f".tmp-{'c' * 32}"
    live.mkdir()
    with open(settings.exports_dir / ACTIVE_LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # what an exporting process holds
        assert recover_exports(settings.exports_dir) == 0
        assert live.is_dir()
    assert recover_exports(settings.exports_dir) == 1 and not live.exists()
