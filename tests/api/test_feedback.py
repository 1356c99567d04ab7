from __future__ import annotations

from sqlalchemy import func, select

from tests.factories import make_clips
from training_dashboard.db.models import Preference, Rating


async def _clips(client, db, settings, n=3, text="jazz"):
    pid = (await client.post("/prompts", json={"text": text})).json()["id"]
    return pid, make_clips(db, settings, pid, n=n)


async def test_rating_roundtrip_and_validation(client, db, settings):
    _, ids = await _clips(client, db, settings)
    r = await client.post("/feedback", json={"audio_id": ids[0], "rating": 4, "tags": ["Warm", "warm", " lofi "],
                                             "criteria": {"musicality": 5}, "notes": "nice", "rater": "admin"})
    assert r.status_code == 201
    body = r.json()
    assert body["tags"] == ["lofi", "warm"] and body["criteria"]["musicality"] == 5 and body["prompt_id"]
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": 3.5}, {"rating": "4"}, {"rating": 3, "tags": ["t"] * 10000},
                {"rating": 3, "criteria": {"coherence": 9}}, {"rating": 3, "tags": [""]}):
        resp = await client.post("/feedback", json={"audio_id": ids[0], **bad})
        assert resp.status_code in (413, 422), bad
        assert resp.json()["detail"]
    assert (await client.post("/feedback", json={"audio_id": 999, "rating": 3})).status_code == 404


async def test_list_feedback_filters(client, db, settings):
    pid, ids = await _clips(client, db, settings)
    await client.post("/feedback", json={"audio_id": ids[0], "rating": 5, "tags": ["bright"]})
    await client.post("/feedback", json={"audio_id": ids[1], "rating": 2, "tags": ["noisy"]})
    await client.post("/feedback", json={"audio_id": ids[1], "rating": 4})
    page = (await client.get("/feedback")).json()
    assert page["total"] == 3 and page["items"][0]["rating"] == 4  # newest first
    assert (await client.get("/feedback", params={"min_rating": 4})).json()["total"] == 2
    assert (await client.get("/feedback", params={"max_rating": 2})).json()["total"] == 1
    assert (await client.get("/feedback", params={"tags": "bright"})).json()["total"] == 1
    assert (await client.get("/feedback", params={"audio_id": ids[1]})).json()["total"] == 2
    assert (await client.get("/feedback", params={"prompt_id": pid})).json()["total"] == 3
    assert (await client.get("/feedback", params={"adapter_id": "base"})).json()["total"] == 3
    assert (await client.get("/feedback", params={"adapter_id": "7"})).json()["total"] == 0
    assert (await client.get("/feedback", params={"start_date": "2000-01-01", "end_date": "2000-01-02"})).json()[
        "total"] == 0
    assert (await client.get("/feedback", params={"adapter_id": "x"})).status_code == 400
    assert (await client.get("/feedback", params={"min_rating": 5, "max_rating": 1})).status_code == 400


async def test_preferences_and_rankings(client, db, settings):
    _, ids = await _clips(client, db, settings, n=4)
    _, other = await _clips(client, db, settings, n=1, text="other")
    r = await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[1]})
    assert r.status_code == 201 and r.json()["tie"] is False
    assert (await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[1],
                                                    "tie": True})).status_code == 201
    same = await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[0]})
    assert same.status_code == 422 and "different" in same.json()["detail"]
    cross = await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": other[0]})
    assert cross.status_code == 400 and "different prompts" in cross.json()["detail"]
    assert (await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": 999})).status_code == 404
    ranking = await client.post("/preferences/ranking", json={"audio_ids": [ids[2], ids[0], ids[3]]})
    assert ranking.status_code == 201
    pairs = {(p["chosen_id"], p["rejected_id"]) for p in ranking.json()}
    assert pairs == {(ids[2], ids[0]), (ids[2], ids[3]), (ids[0], ids[3])}
    assert (await client.post("/preferences/ranking", json={"audio_ids": [ids[0], ids[0]]})).status_code == 422
    with db.session() as s:  # a rejected ranking wrote nothing
        assert s.scalar(select(func.count()).select_from(Preference)) == 5
    bad = await client.post("/preferences/ranking", json={"audio_ids": [ids[0], other[0]]})
    assert bad.status_code == 400
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Preference)) == 5


async def test_stats_match_direct_counts(client, db, settings):
    _, ids = await _clips(client, db, settings, n=3)
    ratings = [(ids[0], 5), (ids[0], 4), (ids[1], 4), (ids[1], 1), (ids[2], 3)]
    for audio_id, rating in ratings:
        await client.post("/feedback", json={"audio_id": audio_id, "rating": rating})
    await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[1]})
    await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[2], "tie": True})
    stats = (await client.get("/feedback/stats")).json()
    assert stats["total_feedback"] == 5
    assert stats["rating_distribution"] == {"1": 1, "2": 0, "3": 1, "4": 2, "5": 1}
    assert stats["samples_by_adapter"] == {"base": 5}
    assert stats["avg_rating_by_adapter"] == {"base": 3.4}
    assert stats["preference_pairs"] == 1 and stats["ties"] == 1 and stats["rated_samples"] == 3
    # threshold 5 (test settings), min rating 4: three eligible ratings
    assert stats["readiness"] == {"threshold": 5, "min_rating": 4, "eligible": 3, "remaining": 2, "ready": False}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == stats["total_feedback"]
    for _ in range(2):
        await client.post("/feedback", json={"audio_id": ids[2], "rating": 5})
    readiness = (await client.get("/feedback/stats")).json()["readiness"]
    assert readiness["ready"] is True and readiness["remaining"] == 0


async def test_counter_rebuild_equals_incremental(client, db, settings):
    from training_dashboard.services.counters import read_counters, rebuild_counters

    _, ids = await _clips(client, db, settings, n=2)
    for i, audio_id in enumerate(ids * 3):
        await client.post("/feedback", json={"audio_id": audio_id, "rating": 1 + i % 5})
    await client.post("/preferences/ranking", json={"audio_ids": ids})
    with db.session() as s:
        incremental = read_counters(s)
    with db.write_session() as s:
        rebuild_counters(s)
    with db.session() as s:
        assert read_counters(s) == incremental
