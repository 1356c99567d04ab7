"""Hand-written hostile inputs: each gets a clear 4xx with a message, and nothing is written."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.factories import make_clips
from training_dashboard.db.models import Dataset, Rating


async def _clip(client, db, settings) -> int:
    pid = (await client.post("/prompts", json={"text": "x"})).json()["id"]
    return make_clips(db, settings, pid, n=2)[0]


async def _post_raw(client, path: str, raw: bytes):  # type: ignore[no-untyped-def]
    return await client.post(path, content=raw, headers={"content-type": "application/json"})


async def test_numbers_that_are_not_ratings(client, db, settings):
    audio_id = await _clip(client, db, settings)
    for raw in (b'{"audio_id": %d, "rating": NaN}', b'{"audio_id": %d, "rating": Infinity}',
                b'{"audio_id": %d, "rating": -Infinity}', b'{"audio_id": %d, "rating": 1e400}',
                b'{"audio_id": %d, "rating": true}', b'{"audio_id": %d, "rating": null}'):
        r = await _post_raw(client, "/feedback", raw % audio_id)
        assert r.status_code == 422, raw
        assert "rating" in r.json()["detail"]
    for raw in (b'{"prompt_id": 1, "duration": NaN}', b'{"prompt_id": 1, "temperature": Infinity}'):
        assert (await _post_raw(client, "/generate", raw)).status_code == 422
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 0


async def test_malformed_bodies(client):
    for raw in (b"", b"{", b"[]", b'"text"', b"\xff\xfe", b'{"text": "a"' + b" " * 10):
        r = await _post_raw(client, "/prompts", raw)
        assert r.status_code == 422, raw
        assert r.json()["detail"]


async def test_ids_of_the_wrong_kind(client, db, settings):
    audio_id = await _clip(client, db, settings)
    assert (await client.get("/prompts/abc")).status_code == 422
    assert (await client.get("/datasets/1.5")).status_code == 422
    assert (await client.get(f"/audio/{2**70}")).status_code == 422
    # ids beyond a 32-bit INTEGER column: 422, not an overflow deep in the driver (found by the fuzz)
    assert (await client.get(f"/audio/{2**31}")).status_code == 422
    assert (await client.post("/generate", json={"prompt_id": 2**63})).status_code == 422
    assert (await client.post("/feedback", json={"audio_id": 2**40, "rating": 3})).status_code == 422
    assert (await client.post("/preferences", json={"chosen_id": 1, "rejected_id": 2**31})).status_code == 422
    assert (await client.get("/feedback", params={"adapter_id": "9" * 15})).status_code == 400
    assert (await client.get("/feedback", params={"adapter_id": "9" * 30})).status_code == 422
    assert (await client.get("/feedback", params={"prompt_id": 2**33})).status_code == 422
    r = await client.post("/datasets/preview", json={"filter": {"adapter_id": 2**31}})
    assert r.status_code == 422 and "adapter_id" in r.json()["detail"]
    assert (await client.post("/feedback", json={"audio_id": "1", "rating": 3})).status_code in (201, 422)
    # an audio id used as a prompt id, a prompt id as an adapter id: unknown ids are 404s
    assert (await client.post("/generate", json={"prompt_id": audio_id + 100})).status_code == 404
    assert (await client.post("/generate", json={"prompt_id": 1, "adapter_id": 1})).status_code == 404


async def test_names_with_unicode_and_control_characters(client, db, settings):
    await _clip(client, db, settings)
    ok = await client.post("/datasets", json={"name": "Beats 2026 v1.0_final"})
    assert ok.status_code == 201
    for name in ("../../etc", "/etc/passwd", "a/b", "bad\x00name", "tab\tname", "new\nline", "emoji💥", " ", ".", "_x"):
        r = await client.post("/datasets", json={"name": name})
        assert r.status_code == 422, name
        assert "name" in r.json()["detail"]
    unicode_name = await client.post("/datasets", json={"name": "Ümlaut Öl 音楽"})
    assert unicode_name.status_code == 201
    r = await client.post("/prompts", json={"text": "café 🎷 jazz — naïve ♪"})
    assert r.status_code == 201 and r.json()["text"] == "café 🎷 jazz — naïve ♪"
    r = await client.post("/feedback", json={"audio_id": 1, "rating": 3, "notes": "bell \x07"})
    assert r.status_code == 422
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Dataset)) == 2


async def test_oversized_requests(client, db, settings):
    audio_id = await _clip(client, db, settings)
    many_tags = [f"t{i}" for i in range(10000)]
    r = await client.post("/feedback", json={"audio_id": audio_id, "rating": 3, "tags": many_tags})
    assert r.status_code == 422 and "tags" in r.json()["detail"]
    r = await client.post("/prompts", json={"text": "x" * 2_000_000})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    assert (await client.get("/feedback", params={"page": 2**63})).status_code == 422
    assert (await client.get("/feedback", params={"page": -5})).status_code == 422
    assert (await client.get("/feedback", params={"tags": [f"t{i}" for i in range(50)]})).status_code == 422
