"""The listening queue: order, never twice, blind answers, concurrency."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.factories import make_clips, make_lora_dir
from training_dashboard.db.models import AudioSample, QueueLease, QueueRated, Rating
from training_dashboard.services import queue


async def _rater(client, name):
    return (await client.post("/raters", json={"name": name})).json()["id"]


async def _setup(client, db, settings, n=4):
    root = settings.resolved_adapter_roots[0]
    make_lora_dir(root, "secret-lora")
    adapter = (await client.post("/adapters", json={"name": "secret-lora", "version": "2.0.0", "path": "secret-lora",
                                                    "is_active": True})).json()
    pid = (await client.post("/prompts", json={"text": "rainy synthwave", "attributes": {"mood": "wistful"}})).json()
    base = make_clips(db, settings, pid["id"], n=n // 2)
    lora = make_clips(db, settings, pid["id"], n=n - n // 2, adapter_id=adapter["id"])
    return pid["id"], adapter["id"], base, lora


def _keys(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


async def test_next_is_blind_by_default(client, db, settings):
    pid, adapter_id, base, lora = await _setup(client, db, settings)
    ana = await _rater(client, "Ana")
    for params in ({"rater_id": ana}, {"rater_id": ana, "blind": "true"}, {"rater_id": ana, "adapter_id": adapter_id}):
        r = await client.get("/queue/next", params=params)
        assert r.status_code == 200
        body = r.json()
        assert not [k for k in _keys(body) if "adapter" in k.lower()], body
        assert "secret-lora" not in r.text and "job_id" not in r.text
        assert body["prompt"]["text"] == "rainy synthwave" and "/stream?" in body["stream_url"]  # signed
        assert body["target"] == 3 and body["rating_count"] == 0
    revealed = (await client.get("/queue/next", params={"rater_id": ana, "adapter_id": adapter_id,
                                                         "blind": "false"})).json()
    assert revealed["adapter_id"] == adapter_id and revealed["adapter_label"] == "secret-lora@2.0.0"
    # The stream URL plays.
    clip = (await client.get("/queue/next", params={"rater_id": ana})).json()
    audio = await client.get(clip["stream_url"].removeprefix("/api"))
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"


async def test_order_fewest_ratings_then_oldest_and_never_twice(client, db, settings):
    _, _, base, lora = await _setup(client, db, settings, n=4)
    clips = base + lora
    ana, bo = await _rater(client, "Ana"), await _rater(client, "Bo")
    # Bo rates the two oldest clips: they now have one rating each.
    for audio_id in clips[:2]:
        await client.post("/feedback", json={"audio_id": audio_id, "rating": 3, "rater_id": bo})
    served = []
    for _ in range(10):
        r = await client.get("/queue/next", params={"rater_id": ana})
        if r.status_code == 204:
            assert r.content == b""
            break
        audio_id = r.json()["audio_id"]
        served.append(audio_id)
        rated = await client.post("/feedback", json={"audio_id": audio_id, "rating": 4, "rater_id": ana})
        assert rated.status_code == 201
    assert served == [clips[2], clips[3], clips[0], clips[1]]  # unrated first, then oldest
    assert len(set(served)) == len(served)
    # Bo has rated two; the other two are next for him.
    assert (await client.get("/queue/next", params={"rater_id": bo})).json()["audio_id"] == clips[2]
    summary = (await client.get("/queue/summary", params={"rater_id": bo})).json()
    assert summary == {"rater_id": bo, "target": 3, "remaining": 2, "rated_today": 2, "rated_total": 2}


async def test_target_ratings_per_clip(client, db, settings):
    _, _, base, lora = await _setup(client, db, settings, n=2)
    raters = [await _rater(client, f"r{i}") for i in range(4)]
    for rater in raters[:3]:  # three ratings: the target
        await client.post("/feedback", json={"audio_id": base[0], "rating": 3, "rater_id": rater})
    r = await client.get("/queue/next", params={"rater_id": raters[3]})
    assert r.json()["audio_id"] == lora[0]
    await client.post("/feedback", json={"audio_id": lora[0], "rating": 3, "rater_id": raters[3]})
    assert (await client.get("/queue/next", params={"rater_id": raters[3]})).status_code == 204
    assert (await client.get("/queue/summary", params={"rater_id": raters[3]})).json()["remaining"] == 0


async def test_filters_and_bad_input(client, db, settings):
    pid, adapter_id, base, lora = await _setup(client, db, settings)
    ana = await _rater(client, "Ana")
    assert (await client.get("/queue/next", params={"rater_id": ana, "adapter_id": adapter_id})).json()["audio_id"] \
        == lora[0]
    assert (await client.get("/queue/next", params={"rater_id": ana, "adapter_id": "base"})).json()["audio_id"] \
        == base[0]
    assert (await client.get("/queue/next", params={"rater_id": ana, "prompt_id": pid + 1})).status_code == 204
    r = await client.get("/queue/next", params={"rater_id": 999})
    assert r.status_code == 403 and "another rater" in r.json()["detail"]  # sign-in: only yourself
    assert (await client.get("/queue/summary", params={"rater_id": 999})).status_code == 403
    for params in ({"rater_id": 0}, {"rater_id": "x"}, {"rater_id": ana, "blind": "maybe"},
                   {"rater_id": ana, "adapter_id": "lora"}, {"rater_id": ana, "prompt_id": -1},
                   {"rater_id": 2**31}):
        r = await client.get("/queue/next", params=params)
        assert r.status_code in (400, 422) and r.json()["detail"], params


async def test_five_concurrent_raters_each_in_order(client, db, settings):
    pid = (await client.post("/prompts", json={"text": "drone"})).json()["id"]
    clips = make_clips(db, settings, pid, n=8)
    raters = [await _rater(client, f"rater-{i}") for i in range(5)]

    async def listen(rater_id):
        seen = []
        for _ in range(20):
            r = await client.get("/queue/next", params={"rater_id": rater_id})
            if r.status_code == 204:
                return seen
            body = r.json()
            seen.append((body["rating_count"], body["audio_id"]))
            r = await client.post("/feedback", json={"audio_id": body["audio_id"], "rating": 3, "rater_id": rater_id})
            assert r.status_code == 201
            await asyncio.sleep(0)
        raise AssertionError("queue did not drain")

    sequences = await asyncio.gather(*(listen(r) for r in raters))
    for seq in sequences:
        ids = [audio_id for _, audio_id in seq]
        assert len(ids) == len(set(ids)), "a clip served twice to one rater"
        # Ratings only grow, so a rater's (ratings at serve time, id) sequence strictly increases.
        assert seq == sorted(seq) and len(set(seq)) == len(seq)
    # Drained: every clip has the target number of ratings (or more, from raters racing).
    counts = {c: 0 for c in clips}
    for seq in sequences:
        for _, audio_id in seq:
            counts[audio_id] += 1
    assert all(n >= 3 for n in counts.values()), counts
    page = (await client.get("/audio", params={"prompt_id": pid, "limit": 50})).json()["items"]
    assert all(item["rating_count"] == counts[item["id"]] for item in page)


async def test_blind_answers_serialise_without_adapter_keys(client, db, settings):
    """The JSON itself (not just the model) carries no adapter key, for any clip."""
    _, _, base, lora = await _setup(client, db, settings, n=4)
    ana = await _rater(client, "Ana")
    for _ in range(4):
        r = await client.get("/queue/next", params={"rater_id": ana})
        assert "adapter" not in json.dumps(r.json())
        await client.post("/feedback", json={"audio_id": r.json()["audio_id"], "rating": 2, "rater_id": ana})


async def test_skipped_clips_are_excluded(client, db, settings):
    _, _, base, lora = await _setup(client, db, settings, n=4)
    ana = await _rater(client, "Ana")
    clips = base + lora
    r = await client.get("/queue/next", params=[("rater_id", ana), ("exclude", clips[0]), ("exclude", clips[1])])
    assert r.json()["audio_id"] == clips[2]
    r = await client.get("/queue/next", params=[("rater_id", ana), *[("exclude", c) for c in clips]])
    assert r.status_code == 204
    r = await client.get("/queue/next", params=[("rater_id", ana), ("exclude", 2**40)])
    assert r.status_code == 200 and r.json()["audio_id"] == clips[0]  # out-of-range ids exclude nothing
    r = await client.get("/queue/next", params=[("rater_id", ana), *[("exclude", 1)] * 101])
    assert r.status_code == 422


async def test_eight_racing_raters_never_push_a_clip_past_the_target(client, db, settings):
    """8 raters drain one queue at once: every clip ends at the target, none past it, and no
    clip got a rating past the target while another still lacked ratings."""
    pid = (await client.post("/prompts", json={"text": "racing"})).json()["id"]
    clips = make_clips(db, settings, pid, n=10)
    target = settings.ratings_per_clip
    raters = [await _rater(client, f"racer-{i}") for i in range(8)]
    ratings: list[int] = []  # clip of each acknowledged rating, in the order they were acknowledged

    async def listen(rater_id):
        seen = []
        for _ in range(len(clips) + 5):
            r = await client.get("/queue/next", params={"rater_id": rater_id})
            if r.status_code == 204:
                return seen
            audio_id = r.json()["audio_id"]
            assert audio_id not in seen, "a clip served twice to one rater"
            seen.append(audio_id)
            await asyncio.sleep(0)  # let the others ask for the same clip before this one is rated
            r = await client.post("/feedback", json={"audio_id": audio_id, "rating": 3, "rater_id": rater_id})
            assert r.status_code == 201
            ratings.append(audio_id)
        raise AssertionError("queue did not drain")

    await asyncio.gather(*(listen(r) for r in raters))
    counts = {c: 0 for c in clips}
    for i, audio_id in enumerate(ratings):
        counts[audio_id] += 1
        assert counts[audio_id] <= target, f"clip {audio_id} rated past the target after {i + 1} ratings: {counts}"
    assert set(counts.values()) == {target}, counts
    page = (await client.get("/audio", params={"prompt_id": pid, "limit": 50})).json()["items"]
    assert {item["id"]: item["rating_count"] for item in page} == counts
    with db.session() as session:  # every lease ended with its rating
        assert session.scalar(select(func.count()).select_from(QueueLease)) == 0


async def test_a_served_clip_is_reserved_until_rated_or_expired(client, db, settings):
    settings.ratings_per_clip = 1
    pid = (await client.post("/prompts", json={"text": "lease"})).json()["id"]
    c1, c2 = make_clips(db, settings, pid, n=2)
    ana, bo, cy = [await _rater(client, n) for n in ("Ana", "Bo", "Cy")]

    async def next_id(rater_id):
        r = await client.get("/queue/next", params={"rater_id": rater_id})
        return r.json()["audio_id"] if r.status_code == 200 else None

    async def remaining(rater_id):
        return (await client.get("/queue/summary", params={"rater_id": rater_id})).json()["remaining"]

    assert await next_id(ana) == c1
    assert await next_id(bo) == c2  # c1 is Ana's for now
    assert await next_id(cy) is None  # both reserved
    assert [await remaining(r) for r in (ana, bo, cy)] == [1, 1, 0]
    assert await next_id(ana) == c1  # served again: the same lease, renewed
    with db.session() as session:
        leases = {(le.rater_id, le.audio_id) for le in session.scalars(select(QueueLease))}
    assert leases == {(ana, c1), (bo, c2)}  # one lease per rater
    # Leases that ran out free their clips (the service takes the clock as an argument).
    later = datetime.now(UTC) + timedelta(seconds=settings.queue_lease_s + 1)
    assert queue.next_clip(db, cy, 1, lease_s=settings.queue_lease_s, now=later).audio_id == c1
    with db.session() as session:  # the expired leases were deleted by that serve
        assert {le.rater_id for le in session.scalars(select(QueueLease))} == {cy}
    # Rating ends the rater's lease: Cy rates c1, and c1 is done for everyone.
    assert (await client.post("/feedback", json={"audio_id": c1, "rating": 4, "rater_id": cy})).status_code == 201
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(QueueLease)) == 0
    assert await next_id(ana) == c2 and await next_id(bo) is None
    assert await remaining(bo) == 0 and await remaining(ana) == 1


async def test_summary_counts_agree_with_a_direct_count(client, db, settings):
    """The unfiltered summary (queue_rated rows kept by each rating) equals the filtered walk
    and a direct count, through repeated, anonymous and shared ratings; a rebuild agrees."""
    pid = (await client.post("/prompts", json={"text": "count me"})).json()["id"]
    clips = make_clips(db, settings, pid, n=6)
    raters = [await _rater(client, f"counter-{i}") for i in range(4)]
    rng = random.Random(7)
    for i in range(30):
        rater_id = rng.choice([*raters, None])
        body = {"audio_id": rng.choice(clips), "rating": rng.randint(1, 5)}
        if rater_id is not None:
            body["rater_id"] = rater_id
        assert (await client.post("/feedback", json=body)).status_code == 201
        if i % 5 == 4:
            for r in raters:
                with db.session() as session:
                    rated = set(session.scalars(select(Rating.audio_id).where(Rating.rater_id == r)))
                    counts = dict(session.execute(select(AudioSample.id, AudioSample.rating_count)).all())
                expected = sum(1 for c in clips if counts[c] < 3 and c not in rated)
                plain = (await client.get("/queue/summary", params={"rater_id": r})).json()["remaining"]
                walked = (await client.get("/queue/summary", params={"rater_id": r, "prompt_id": pid})).json()
                assert plain == walked["remaining"] == expected, (i, r)
    with db.session() as session:
        kept = sorted(session.execute(select(QueueRated.rater_id, QueueRated.rating_count, QueueRated.clips)
                                      .where(QueueRated.clips != 0)).all())
    with db.write_session() as session:
        queue.rebuild_queue_rated(session)
    with db.session() as session:
        assert sorted(session.execute(select(QueueRated.rater_id, QueueRated.rating_count,
                                             QueueRated.clips)).all()) == kept
