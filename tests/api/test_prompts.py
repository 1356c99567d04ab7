from __future__ import annotations

from tests.factories import make_clips


async def test_create_and_read_prompt(client, db, settings):
    r = await client.post("/prompts", json={"text": "lofi beat", "attributes": {
        "style": "lofi", "tempo": 80, "instruments": ["piano", "drums"], "mood": "calm"}})
    assert r.status_code == 201
    body = r.json()
    assert body["attributes"] == {"style": "lofi", "tempo": 80, "instruments": ["piano", "drums"], "mood": "calm"}
    ids = make_clips(db, settings, body["id"], n=2)
    detail = (await client.get(f"/prompts/{body['id']}")).json()
    assert [s["id"] for s in detail["samples"]] == ids
    assert detail["samples"][0]["adapter_label"] == "base"
    assert detail["samples"][0]["stream_url"].startswith(f"/api/audio/{ids[0]}/stream?exp=")  # signed


async def test_list_prompts_newest_first_with_total(client):
    for i in range(5):
        await client.post("/prompts", json={"text": f"p{i}"})
    page = (await client.get("/prompts", params={"page": 1, "limit": 2})).json()
    assert page["total"] == 5
    assert [p["text"] for p in page["items"]] == ["p4", "p3"]
    last = (await client.get("/prompts", params={"page": 3, "limit": 2})).json()
    assert [p["text"] for p in last["items"]] == ["p0"]


async def test_prompt_bad_input(client):
    cases = [
        {"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {"text": "ok", "attributes": {"tempo": 39}},
        {"text": "ok", "attributes": {"tempo": 201}}, {"text": "ok", "attributes": {"tempo": 90.5}},
        {"text": "ok", "extra": 1}, {"text": "bad\x00char"},
    ]
    for body in cases:
        r = await client.post("/prompts", json=body)
        assert r.status_code == 422, body
        assert r.json()["detail"]
    assert (await client.post("/prompts", json={"text": "x" * 2000})).status_code == 201
    r = await client.get("/prompts/999")
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    assert (await client.get("/prompts/0")).status_code == 422
    assert (await client.get("/prompts", params={"page": -1})).status_code == 422
    assert (await client.get("/prompts", params={"page": 10**12})).status_code == 422
    assert (await client.get("/prompts", params={"limit": 1000})).status_code == 422
