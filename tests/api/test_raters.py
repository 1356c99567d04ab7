"""Raters: the API contract, rater ids on feedback, history and clip listings."""

from __future__ import annotations

import pytest

from tests.factories import make_clips


async def _prompt(client, text="late-night jazz", **attributes):
    return (await client.post("/prompts", json={"text": text, "attributes": attributes})).json()["id"]


async def test_create_and_list_raters(client):
    r = await client.post("/raters", json={"name": "Ana"})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "Ana" and body["id"] >= 1 and body["created_at"]
    assert (await client.post("/raters", json={"name": "Bo"})).status_code == 201
    for dup in ("Ana", "ana", " Ana "):
        r = await client.post("/raters", json={"name": dup})
        assert r.status_code == 409 and "already exists" in r.json()["detail"]
    listed = [x for x in (await client.get("/raters")).json() if x["name"] != "admin"]  # the signed-in admin's own
    assert [x["name"] for x in listed] == ["Ana", "Bo"]
    assert all(x["rating_count"] == 0 and x["preference_count"] == 0 for x in listed)


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "a" * 101}, {"name": "../x"},
                                  {"name": "ok", "extra": 1}, {"name": 5}, {"name": "bad\x00name"}])
async def test_rater_validation(client, body):
    r = await client.post("/raters", json=body)
    assert r.status_code == 422 and r.json()["detail"]


async def test_feedback_carries_rater_and_counts(client, db, settings):
    ana = (await client.post("/raters", json={"name": "Ana"})).json()
    ids = make_clips(db, settings, await _prompt(client), n=2)
    r = await client.post("/feedback", json={"audio_id": ids[0], "rating": 4, "rater_id": ana["id"]})
    assert r.status_code == 201 and r.json()["rater_id"] == ana["id"] and r.json()["rater"] == "Ana"
    await client.post("/feedback", json={"audio_id": ids[1], "rating": 2, "rater_id": ana["id"]})
    p = await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[1], "rater_id": ana["id"]})
    assert p.status_code == 201 and p.json()["rater_id"] == ana["id"]
    rk = await client.post("/preferences/ranking", json={"audio_ids": ids, "rater_id": ana["id"]})
    assert rk.status_code == 201 and all(x["rater_id"] == ana["id"] for x in rk.json())
    listed = {x["name"]: x for x in (await client.get("/raters")).json()}
    assert listed["Ana"]["rating_count"] == 2 and listed["Ana"]["preference_count"] == 2
    # Sign-in on: feedback naming no rater is the signed-in user's (the admin here).
    own = await client.post("/feedback", json={"audio_id": ids[0], "rating": 3})
    assert own.status_code == 201 and own.json()["rater"] == "admin" and own.json()["rater_id"] != ana["id"]
    # A free-text rater that is not the signed-in one is someone else.
    r = await client.post("/feedback", json={"audio_id": ids[0], "rating": 3, "rater_id": ana["id"], "rater": "Zed"})
    assert r.status_code == 403 and "yourself" in r.json()["detail"]


async def test_unknown_rater_is_refused(client, db, settings):
    ids = make_clips(db, settings, await _prompt(client), n=2)
    for path, body in (("/feedback", {"audio_id": ids[0], "rating": 4, "rater_id": 999}),
                       ("/preferences", {"chosen_id": ids[0], "rejected_id": ids[1], "rater_id": 999}),
                       ("/preferences/ranking", {"audio_ids": ids, "rater_id": 999})):
        r = await client.post(path, json=body)
        assert r.status_code == 403 and "another rater" in r.json()["detail"], path  # not the signed-in one
    assert (await client.get("/feedback")).json()["total"] == 0  # nothing half-written
    for bad in (0, -1, "x", 2**31):
        r = await client.post("/feedback", json={"audio_id": ids[0], "rating": 4, "rater_id": bad})
        assert r.status_code == 422, bad


async def test_generation_history_newest_first(client, db, settings):
    first = await _prompt(client, "first", style="jazz", tempo=90)
    second = await _prompt(client, "second", mood="calm")
    a = make_clips(db, settings, first, n=2, seed=7)
    b = make_clips(db, settings, second, n=1)
    queued = (await client.post("/generate", json={"prompt_id": second})).json()
    page = (await client.get("/generate", params={"limit": 2})).json()
    assert page["total"] == 3
    assert [j["id"] for j in page["items"]] == [queued["id"], queued["id"] - 1]
    assert page["items"][0]["status"] == "queued" and page["items"][0]["audio_ids"] == []
    assert page["items"][1]["audio_ids"] == b and page["items"][1]["prompt"]["text"] == "second"
    older = (await client.get("/generate", params={"limit": 2, "page": 2})).json()["items"]
    assert len(older) == 1 and older[0]["audio_ids"] == a and older[0]["adapter_label"] == "base"
    assert older[0]["prompt"]["attributes"]["style"] == "jazz" and older[0]["params"]["seed"] == 7
    done = (await client.get("/generate", params={"status": "completed"})).json()
    assert done["total"] == 2 and all(j["status"] == "completed" for j in done["items"])
    for bad in ({"status": "bogus"}, {"page": 0}, {"limit": 0}, {"limit": 201}):
        r = await client.get("/generate", params=bad)
        assert r.status_code == 422 and r.json()["detail"], bad
    assert (await client.get(f"/generate/{queued['id']}")).json()["id"] == queued["id"]  # no shadowing


async def test_audio_listing_filters(client, db, settings):
    ana = (await client.post("/raters", json={"name": "Ana"})).json()["id"]
    bo = (await client.post("/raters", json={"name": "Bo"})).json()["id"]
    pid = await _prompt(client)
    other = await _prompt(client, "other")
    ids = make_clips(db, settings, pid, n=3)
    more = make_clips(db, settings, other, n=1)
    await client.post("/feedback", json={"audio_id": ids[0], "rating": 4, "rater_id": ana})
    await client.post("/feedback", json={"audio_id": ids[1], "rating": 4, "rater_id": bo})

    async def listed(**params):
        page = (await client.get("/audio", params=params)).json()
        assert page["total"] == len(page["items"])
        return [x["id"] for x in page["items"]]

    assert await listed() == sorted(ids + more, reverse=True)
    assert await listed(prompt_id=pid) == sorted(ids, reverse=True)
    assert await listed(rated_by=ana) == [ids[0]]
    assert await listed(not_rated_by=ana) == sorted(ids[1:] + more, reverse=True)
    assert await listed(prompt_id=pid, rated_by=bo, not_rated_by=ana) == [ids[1]]
    assert await listed(adapter_id="base") == sorted(ids + more, reverse=True)
    assert await listed(adapter_id="7") == []
    item = (await client.get("/audio", params={"rated_by": ana})).json()["items"][0]
    assert item["prompt_id"] == pid and item["rating_count"] == 1 and "/stream?" in item["stream_url"]  # signed
    assert (await client.get("/audio", params={"rated_by": 999})).status_code == 404
    for bad in ({"adapter_id": "x"}, {"rated_by": 0}, {"limit": 500}, {"prompt_id": "a"}):
        r = await client.get("/audio", params=bad)
        assert r.status_code in (400, 422) and r.json()["detail"], bad


async def test_client_methods(api, db, settings):
    from training_dashboard import schemas

    rater = await api.create_rater(schemas.RaterCreate(name="Cy"))
    assert [r.name for r in await api.list_raters() if r.name != "admin"] == ["Cy"]
    pid = (await api.create_prompt(schemas.PromptCreate(text="x"))).id
    ids = make_clips(db, settings, pid, n=1)
    assert (await api.list_jobs()).items[0].audio_ids == ids
    assert (await api.list_audio(not_rated_by=rater.id)).total == 1
    clip = await api.next_clip(rater.id)
    assert clip is not None and clip.audio_id == ids[0]
    await api.submit_feedback(schemas.FeedbackCreate(audio_id=ids[0], rating=5, rater_id=rater.id))
    assert await api.next_clip(rater.id) is None
    summary = await api.queue_summary(rater.id)
    assert (summary.remaining, summary.rated_today, summary.rated_total) == (0, 1, 1)
    assert (await api.feedback_quality()).agreement.clips == 0
