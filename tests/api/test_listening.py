"""Listening data with ratings and preferences: stored and returned, bad values refused (422
naming the field), the listen gate and the import exemption, and the per-rater quality figures."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import make_clips
from training_dashboard.api.app import create_app
from training_dashboard.services.quality import compute_quality

CLIP_S = 0.5  # tests/factories.make_clips writes 0.5 s clips


def heard(audio_id: int, heard_s: float, **extra) -> dict:
    return {"audio_id": audio_id, "heard_s": heard_s, "duration_s": CLIP_S, "plays": 1, "seeks": 0, **extra}


@pytest.fixture
async def clips(client, db, settings) -> list[int]:
    pid = (await client.post("/prompts", json={"text": "a slow waltz"})).json()["id"]
    return make_clips(db, settings, pid, n=3)


@pytest.fixture
async def gated(settings):  # type: ignore[no-untyped-def]
    """The same database behind an app whose listen gate is 0.3 s (the clips last 0.5 s)."""
    app = create_app(settings.model_copy(update={"min_listen": "0.3s"}), with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api") as c:
        yield c
    app.state.db.dispose()


async def test_rating_listening_is_stored_and_returned(client, clips):
    listening = {"clips": [heard(clips[0], 0.4, plays=2, seeks=1)], "decision_ms": 6100}
    r = await client.post("/feedback", json={"audio_id": clips[0], "rating": 4, "listening": listening})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["imported"] is False
    assert body["listening"] == {"clips": [{**heard(clips[0], 0.4, plays=2, seeks=1), "slot": None}],
                                 "decision_ms": 6100, "heard_fraction": pytest.approx(0.8)}
    listed = (await client.get("/feedback", params={"audio_id": clips[0]})).json()["items"]
    assert [item["listening"] for item in listed] == [body["listening"]]
    # Without listening data: none stored, none returned; heard past the end counts as the whole clip.
    plain = (await client.post("/feedback", json={"audio_id": clips[1], "rating": 2})).json()
    assert plain["listening"] is None
    full = await client.post("/feedback", json={"audio_id": clips[2], "rating": 5,
                                                "listening": {"clips": [heard(clips[2], CLIP_S + 0.2)]}})
    assert full.status_code == 201 and full.json()["listening"]["heard_fraction"] == 1.0
    assert full.json()["listening"]["decision_ms"] is None


async def test_preference_listening_and_reason_are_stored_and_returned(client, clips):
    a, b = clips[0], clips[1]
    body = {"chosen_id": a, "rejected_id": b, "reason": "  the second one drags  ",
            "listening": {"clips": [heard(b, 0.2), heard(a, 0.5)], "decision_ms": 900}}
    r = await client.post("/preferences", json=body)
    assert r.status_code == 201, r.text
    pref = r.json()
    assert pref["reason"] == "the second one drags"
    assert pref["listening"]["heard_fraction"] == pytest.approx(0.4)
    assert [c["audio_id"] for c in pref["listening"]["clips"]] == [b, a]
    plain = (await client.post("/preferences", json={"chosen_id": a, "rejected_id": b, "reason": "  "})).json()
    assert plain["reason"] is None and plain["listening"] is None


async def test_ranking_pairs_keep_their_own_clips(client, clips):
    body = {"audio_ids": clips, "listening": {"clips": [heard(clips[0], 0.5), heard(clips[1], 0.1),
                                                        heard(clips[2], 0.25)], "decision_ms": 100}}
    r = await client.post("/preferences/ranking", json=body)
    assert r.status_code == 201, r.text
    fractions = {(p["chosen_id"], p["rejected_id"]): p["listening"]["heard_fraction"] for p in r.json()}
    assert fractions == {(clips[0], clips[1]): pytest.approx(0.2), (clips[0], clips[2]): pytest.approx(0.5),
                         (clips[1], clips[2]): pytest.approx(0.2)}


BAD_RATINGS = [  # (listening or a body change, the field the 422 names)
    ({"clips": [{"audio_id": "A", "heard_s": -0.1, "duration_s": CLIP_S}]}, "listening.clips.0.heard_s"),
    ({"clips": [{"audio_id": "A", "heard_s": CLIP_S + 0.3, "duration_s": CLIP_S}]}, "listening.clips.0.heard_s"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": -1}]}, "listening.clips.0.duration_s"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S, "plays": 10_001}]}, "listening.clips.0.plays"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S, "seeks": -1}]}, "listening.clips.0.seeks"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S, "plays": 1.5}]}, "listening.clips.0.plays"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S}], "decision_ms": 86_400_001},
     "listening.decision_ms"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S}], "decision_ms": -5}, "listening.decision_ms"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S}] * 2}, "listening.clips"),
    ({"clips": []}, "listening.clips"),
    ({"clips": [{"audio_id": "B", "heard_s": 0.1, "duration_s": CLIP_S}]}, "listening.clips.0.audio_id"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S},
                {"audio_id": "B", "heard_s": 0.1, "duration_s": CLIP_S}]}, "listening.clips.1.audio_id"),
    ({"clips": [{"slot": "first", "heard_s": 0.1, "duration_s": CLIP_S}]}, "listening.clips.0"),
    ({"clips": [{"audio_id": "A", "heard_s": "lots", "duration_s": CLIP_S}]}, "listening.clips.0.heard_s"),
    ({"clips": [{"audio_id": "A", "heard_s": 0.1, "duration_s": CLIP_S, "paused": 3}]}, "listening.clips.0.paused"),
]


@pytest.mark.parametrize(("listening", "field"), BAD_RATINGS, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_RATINGS)])
async def test_bad_listening_is_refused_naming_the_field(client, clips, listening, field):
    ids = {"A": clips[0], "B": clips[1]}
    listening = {**listening, "clips": [{**clip, "audio_id": ids[clip["audio_id"]]} if "audio_id" in clip else clip
                                        for clip in listening["clips"]]}
    r = await client.post("/feedback", json={"audio_id": clips[0], "rating": 3, "listening": listening})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field), r.json()["detail"]
    assert (await client.get("/feedback")).json()["total"] == 0


async def test_bad_preference_listening_and_reason_are_refused(client, clips):
    a, b, c = clips
    base = {"chosen_id": a, "rejected_id": b}
    cases = [
        ({"listening": {"clips": [heard(a, 0.1)]}}, "listening.clips: clip"),  # b left out
        ({"listening": {"clips": [heard(a, 0.1), heard(c, 0.1)]}}, "listening.clips.1.audio_id"),
        ({"listening": {"clips": [heard(a, 0.1), heard(b, 0.9)]}}, "listening.clips.1.heard_s"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "bad\x00char"}, "reason"),
    ]
    for change, field in cases:
        r = await client.post("/preferences", json={**base, **change})
        assert r.status_code == 422 and r.json()["detail"].startswith(field), (change, r.text)
    assert (await client.post("/preferences", json={**base, "reason": "y" * 500})).status_code == 201


async def test_policy_is_off_by_default(client, api):
    assert (await client.get("/listening/policy")).json() == {"spec": None, "min_seconds": None,
                                                              "min_fraction": None}
    assert (await api.listening_policy()).spec is None


async def test_gate_refuses_unheard_ratings_and_accepts_heard_ones(gated, clips):
    policy = (await gated.get("/listening/policy")).json()
    assert policy == {"spec": "0.3s", "min_seconds": 0.3, "min_fraction": None}
    r = await gated.post("/feedback", json={"audio_id": clips[0], "rating": 4})
    assert r.status_code == 422 and "listen gate" in r.json()["detail"] and "0.3s" in r.json()["detail"]
    r = await gated.post("/feedback", json={"audio_id": clips[0], "rating": 4,
                                            "listening": {"clips": [heard(clips[0], 0.1)]}})
    assert r.status_code == 422
    assert f"clip {clips[0]}: heard 0.1 s of the required 0.3 s" in r.json()["detail"]
    ok = await gated.post("/feedback", json={"audio_id": clips[0], "rating": 4,
                                             "listening": {"clips": [heard(clips[0], 0.3)]}})
    assert ok.status_code == 201, ok.text
    # Preferences: every clip must reach it.
    r = await gated.post("/preferences", json={"chosen_id": clips[0], "rejected_id": clips[1],
                                               "listening": {"clips": [heard(clips[0], 0.5), heard(clips[1], 0.2)]}})
    assert r.status_code == 422 and f"clip {clips[1]}: heard 0.2 s" in r.json()["detail"]
    r = await gated.post("/preferences", json={"chosen_id": clips[0], "rejected_id": clips[1],
                                               "listening": {"clips": [heard(clips[0], 0.5), heard(clips[1], 0.4)]}})
    assert r.status_code == 201, r.text
    assert (await gated.get("/feedback")).json()["total"] == 1


@pytest.mark.parametrize(("spec", "needed"), [("10s|40%", 0.2), ("10s", CLIP_S)])
async def test_gate_never_asks_more_than_the_clip_and_takes_the_shorter_rule(settings, clips, spec, needed):
    app = create_app(settings.model_copy(update={"min_listen": spec}), with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api") as c:
        r = await c.post("/feedback", json={"audio_id": clips[0], "rating": 4,
                                            "listening": {"clips": [heard(clips[0], needed - 0.1)]}})
        assert r.status_code == 422, r.text  # 40 % of 0.5 s < 10 s; 10 s > the whole 0.5 s clip
        assert f"heard {needed - 0.1:.1f} s of the required {needed:.1f} s" in r.json()["detail"]
        r = await c.post("/feedback", json={"audio_id": clips[0], "rating": 4,
                                            "listening": {"clips": [heard(clips[0], needed)]}})
        assert r.status_code == 201, r.text
    app.state.db.dispose()


async def test_imported_ratings_are_exempt_from_the_gate_and_marked(gated, api, clips):
    r = await gated.post("/feedback", json={"audio_id": clips[0], "rating": 2, "import": True})
    assert r.status_code == 201, r.text
    assert r.json()["imported"] is True and r.json()["listening"] is None
    listed = (await gated.get("/feedback")).json()["items"]
    assert [item["imported"] for item in listed] == [True]
    # The client sends the flag under its JSON name.
    from training_dashboard import schemas

    body = schemas.FeedbackCreate(audio_id=clips[1], rating=3, imported=True)
    assert body.model_dump(mode="json")["import"] is True
    stored = await api.submit_feedback(body)
    assert stored.imported is True
    r = await gated.post("/feedback", json={"audio_id": clips[0], "rating": 2, "import": "yes"})
    assert r.status_code == 422 and r.json()["detail"].startswith("import")


async def test_client_sends_listening_and_reason(api, clips):
    from training_dashboard import schemas

    listening = schemas.Listening(clips=[schemas.ClipHeard(audio_id=clips[0], heard_s=0.5, duration_s=0.5),
                                         schemas.ClipHeard(audio_id=clips[1], heard_s=0.25, duration_s=0.5)],
                                  decision_ms=1200)
    pref = await api.submit_preference(schemas.PreferenceCreate(chosen_id=clips[0], rejected_id=clips[1],
                                                                listening=listening, reason="brighter"))
    assert pref.reason == "brighter" and pref.listening is not None and pref.listening.heard_fraction == 0.5
    rating = await api.submit_feedback(schemas.FeedbackCreate(
        audio_id=clips[2], rating=5, listening=schemas.Listening(
            clips=[schemas.ClipHeard(audio_id=clips[2], heard_s=0.5, duration_s=0.5, plays=1)], decision_ms=10)))
    assert rating.listening is not None and rating.listening.clips[0].plays == 1
    page = await api.list_feedback(audio_id=clips[2])
    assert page.items[0].listening == rating.listening


async def test_quality_reports_how_each_rater_listened(client, db, settings, clips):
    ids = {n: (await client.post("/raters", json={"name": n})).json()["id"] for n in ("Attentive", "Hasty", "Quiet")}
    a, b, c = clips
    # Attentive: heard everything, took their time (2 ratings, 1 preference).
    for clip in (a, b):
        await client.post("/feedback", json={"audio_id": clip, "rating": 4, "rater_id": ids["Attentive"],
                                             "listening": {"clips": [heard(clip, 0.5)], "decision_ms": 4000}})
    await client.post("/preferences", json={"chosen_id": a, "rejected_id": b, "rater_id": ids["Attentive"],
                                            "listening": {"clips": [heard(a, 0.5), heard(b, 0.45)],
                                                          "decision_ms": 3000}})
    # Hasty: heard a tenth, decided in 0.2 s (faster than the 0.5 s clips), once heard it all.
    for clip, part in ((a, 0.05), (b, 0.05), (c, 0.5)):
        await client.post("/feedback", json={"audio_id": clip, "rating": 1, "rater_id": ids["Hasty"],
                                             "listening": {"clips": [heard(clip, part)], "decision_ms": 200}})
    # Quiet: no listening data at all; an imported rating does not count.
    await client.post("/feedback", json={"audio_id": a, "rating": 3, "rater_id": ids["Quiet"]})
    await client.post("/feedback", json={"audio_id": b, "rating": 3, "rater_id": ids["Quiet"], "import": True})
    body = (await client.get("/feedback/quality")).json()
    rows = {r["name"]: r for r in body["raters"]}
    assert {k: rows["Attentive"][k] for k in ("judgements", "listened", "median_heard", "fast_share",
                                              "unattentive")} == {"judgements": 3, "listened": 3,
                                                                  "median_heard": 1.0, "fast_share": 0.0,
                                                                  "unattentive": False}
    # Hasty's clips: 10 %, 10 %, 100 % -> median 10 %; all three decisions fast; 2 of 3 under half heard.
    assert rows["Hasty"]["median_heard"] == 0.1 and rows["Hasty"]["fast_share"] == 1.0
    assert rows["Hasty"]["unattentive"] is True and rows["Hasty"]["judgements"] == 3
    assert rows["Quiet"]["judgements"] == 1 and rows["Quiet"]["listened"] == 0
    assert rows["Quiet"]["median_heard"] is None and rows["Quiet"]["fast_share"] is None
    assert rows["Quiet"]["unattentive"] is True and body["unattentive"] == 2
    with db.session() as session:  # the running figures equal a recomputation from the rows
        assert compute_quality(session, settings.readiness_min_rating).model_dump() == body


async def test_running_figures_equal_a_recomputation_on_a_random_workload(client, db, settings, clips):
    import numpy as np

    from training_dashboard.services.listening_stats import rebuild_listening
    from training_dashboard.services.quality import feedback_quality

    raters = [(await client.post("/raters", json={"name": n})).json()["id"] for n in "ABCD"]
    rng = np.random.default_rng(19)

    def maybe_listening(ids: list[int]) -> dict:
        if rng.random() < 0.25:
            return {}
        decision = None if rng.random() < 0.2 else int(rng.integers(0, 2000))
        return {"listening": {"clips": [heard(i, round(float(rng.uniform(0, 0.6)), 3)) for i in ids],
                              "decision_ms": decision}}

    for _ in range(80):
        rater, roll = int(rng.choice(raters)), rng.random()
        if roll < 0.25:
            a, b = (int(x) for x in rng.choice(clips, 2, replace=False))
            r = await client.post("/preferences", json={"chosen_id": a, "rejected_id": b, "rater_id": rater,
                                                        "tie": bool(rng.random() < 0.2), **maybe_listening([a, b])})
        elif roll < 0.35:
            order = [int(x) for x in rng.permutation(clips)]
            r = await client.post("/preferences/ranking", json={"audio_ids": order, "rater_id": rater,
                                                                **maybe_listening(order)})
        else:
            clip = int(rng.choice(clips))
            r = await client.post("/feedback", json={"audio_id": clip, "rating": int(rng.integers(1, 6)),
                                                     "rater_id": rater, "import": bool(rng.random() < 0.1),
                                                     **maybe_listening([clip])})
        assert r.status_code == 201, r.text
    served = feedback_quality(db, settings.readiness_min_rating)
    with db.session() as session:
        assert served == compute_quality(session, settings.readiness_min_rating)
    assert sum(r.listened for r in served.raters) > 0 and any(r.median_heard for r in served.raters)
    with db.write_session() as session:
        rebuild_listening(session)
    assert feedback_quality(db, settings.readiness_min_rating) == served


def test_concurrent_listeners_keep_the_figures_exact(db, settings):
    """Raters rating and comparing at once, with listening data: no deadlock (PostgreSQL), no lost
    update, and the running figures equal a recomputation."""
    from tests.factories import run_concurrently
    from training_dashboard import schemas
    from training_dashboard.services import feedback, prompts, raters
    from training_dashboard.services.quality import feedback_quality

    pid = prompts.create_prompt(db, schemas.PromptCreate(text="racing listeners")).id or 0
    clips = make_clips(db, settings, pid, n=3)
    ids = [raters.create_rater(db, schemas.RaterCreate(name=f"l{i}")).id or 0 for i in range(4)]

    def heard_list(*parts: tuple[int, float], decision_ms: int) -> schemas.Listening:
        return schemas.Listening(clips=[schemas.ClipHeard(audio_id=a, heard_s=h, duration_s=CLIP_S) for a, h in parts],
                                 decision_ms=decision_ms)

    def listen(index: int) -> None:
        for n in range(12):
            clip, other = clips[(index + n) % 3], clips[(index + n + 1) % 3]
            part = 0.05 * ((index + n) % 11)
            if n % 3 == 2:
                feedback.create_preference(db, schemas.PreferenceCreate(
                    chosen_id=clip, rejected_id=other, rater_id=ids[index], reason=f"{index}/{n}",
                    listening=heard_list((clip, part), (other, 0.5), decision_ms=300 * n)))
            else:
                feedback.create_rating(db, schemas.FeedbackCreate(
                    audio_id=clip, rating=1 + n % 5, rater_id=ids[index],
                    listening=heard_list((clip, part), decision_ms=100 * n) if n % 4 else None))

    assert run_concurrently(listen, 4) == []
    served = feedback_quality(db, settings.readiness_min_rating)
    with db.session() as session:
        assert served == compute_quality(session, settings.readiness_min_rating)
    assert sum(r.judgements for r in served.raters) == 48
