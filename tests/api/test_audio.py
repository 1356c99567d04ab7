from __future__ import annotations

from tests.factories import make_clips


async def _clip(client, db, settings) -> tuple[int, bytes]:
    pid = (await client.post("/prompts", json={"text": "strings"})).json()["id"]
    audio_id = make_clips(db, settings, pid, n=1)[0]
    data = (settings.resolved_data_dir / "audio" / "factory-1-0.wav").read_bytes()
    return audio_id, data


async def test_audio_metadata(client, db, settings):
    audio_id, _ = await _clip(client, db, settings)
    meta = (await client.get(f"/audio/{audio_id}")).json()
    assert meta["prompt"]["text"] == "strings" and meta["adapter"] is None and meta["sample_rate"] == 32000
    assert (await client.get("/audio/999")).status_code == 404


async def test_stream_full_and_ranges(client, db, settings):
    audio_id, data = await _clip(client, db, settings)
    full = await client.get(f"/audio/{audio_id}/stream")
    assert full.status_code == 200 and full.content == data
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-type"] == "audio/wav"
    part = await client.get(f"/audio/{audio_id}/stream", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert part.headers["content-length"] == "100"
    tail = await client.get(f"/audio/{audio_id}/stream", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    open_end = await client.get(f"/audio/{audio_id}/stream", headers={"Range": f"bytes={len(data) - 5}-"})
    assert open_end.content == data[-5:]
    beyond = await client.get(f"/audio/{audio_id}/stream", headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    assert (await client.get(f"/audio/{audio_id}/stream", headers={"Range": "bytes=9-3"})).status_code == 416
    assert (await client.get(f"/audio/{audio_id}/stream", headers={"Range": "lines=1-2"})).status_code == 416


async def test_missing_file_is_404_not_500(client, db, settings):
    audio_id, _ = await _clip(client, db, settings)
    (settings.resolved_data_dir / "audio" / "factory-1-0.wav").unlink()
    r = await client.get(f"/audio/{audio_id}/stream")
    assert r.status_code == 404 and "missing" in r.json()["detail"]
