"""The history and clip lists read cheaply and still answer exactly (issue 21 item 4)."""

from __future__ import annotations

from sqlalchemy import event, select

from tests.factories import make_clips
from training_dashboard.db.models import Rater
from training_dashboard.services.raters import rebuild_rater_totals


async def _rater(client, name):  # type: ignore[no-untyped-def]
    return (await client.post("/raters", json={"name": name})).json()["id"]


async def _rate(client, audio_id, rater_id, rating=4):  # type: ignore[no-untyped-def]
    r = await client.post("/feedback", json={"audio_id": audio_id, "rating": rating, "rater_id": rater_id})
    assert r.status_code == 201, r.text


def _clip_counts(db) -> dict[int, int]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return dict(s.execute(select(Rater.id, Rater.clip_count)).all())


async def test_a_raters_distinct_clips_are_kept_with_each_rating(client, db, settings):
    ana, bo = await _rater(client, "Ana"), await _rater(client, "Bo")
    pid = (await client.post("/prompts", json={"text": "kept"})).json()["id"]
    ids = make_clips(db, settings, pid, n=4)
    for audio_id, rater_id in ((ids[0], ana), (ids[0], ana), (ids[1], ana), (ids[0], bo), (ids[3], ana)):
        await _rate(client, audio_id, rater_id)  # Ana rates clip 0 twice: it counts once
    kept = _clip_counts(db)
    assert {k: v for k, v in kept.items() if v} == {ana: 3, bo: 1}  # (the signed-in admin is a rater too: 0)
    with db.write_session() as s:  # the repair path agrees with the running totals
        rebuild_rater_totals(s)
    assert _clip_counts(db) == kept


async def test_clips_not_rated_by_a_rater_are_paged_and_counted_exactly(client, db, settings):
    ana, bo = await _rater(client, "Ana"), await _rater(client, "Bo")
    pid = (await client.post("/prompts", json={"text": "a"})).json()["id"]
    other = (await client.post("/prompts", json={"text": "b"})).json()["id"]
    ids = make_clips(db, settings, pid, n=4) + make_clips(db, settings, other, n=3)
    for audio_id in (ids[0], ids[0], ids[2], ids[5]):  # a repeat, one clip of each prompt
        await _rate(client, audio_id, ana)
    await _rate(client, ids[1], bo)
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def page(**params):  # type: ignore[no-untyped-def]
        body = (await client.get("/audio", params={"limit": 2, **params})).json()
        return body["total"], [x["id"] for x in body["items"]]

    unrated = sorted(set(ids) - {ids[0], ids[2], ids[5]}, reverse=True)
    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        assert await page(not_rated_by=ana) == (4, unrated[:2])
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    # Unfiltered, the total is the kept count: no statement aggregates the rater's ratings.
    assert not [s for s in statements if "count(distinct" in s.lower()], statements
    assert await page(not_rated_by=ana, page=2) == (4, unrated[2:4])
    assert await page(not_rated_by=ana, page=3) == (4, [])
    assert await page(rated_by=ana) == (3, [ids[5], ids[2]])
    assert await page(not_rated_by=ana, prompt_id=pid) == (2, [ids[3], ids[1]])
    assert await page(rated_by=ana, prompt_id=other) == (1, [ids[5]])
    assert await page(not_rated_by=ana, rated_by=bo) == (1, [ids[1]])
    assert await page(not_rated_by=ana, adapter_id="base") == (4, unrated[:2])
    assert await page(not_rated_by=ana, adapter_id="3") == (0, [])
    r = await client.get("/audio", params={"not_rated_by": 999})
    assert r.status_code == 404 and r.json()["detail"] == "Rater 999 not found"


async def test_history_pages_by_status_after_an_unfiltered_page(client, db, settings):
    pid = (await client.post("/prompts", json={"text": "h"})).json()["id"]
    done = [make_clips(db, settings, pid, n=2, seed=s) for s in (1, 3, 5)]
    queued = (await client.post("/generate", json={"prompt_id": pid, "num_samples": 1})).json()["id"]

    async def jobs(**params):  # type: ignore[no-untyped-def]
        body = (await client.get("/generate", params={"limit": 2, **params})).json()
        return body["total"], [(j["id"], j["status"], j["audio_ids"]) for j in body["items"]]

    total, first = await jobs()
    assert total == 4 and first[0] == (queued, "queued", []) and first[1][2] == done[2]
    assert await jobs(status="completed", page=2) == (3, [(first[1][0] - 2, "completed", done[0])])
    assert await jobs(status="queued") == (1, [(queued, "queued", [])])
    assert (await jobs(page=2))[1][1][2] == done[0]
