"""GET /api/feedback/quality: agreement, raters, preference consistency, coverage; the cache."""

from __future__ import annotations

import math

import krippendorff
import numpy as np

from tests.factories import make_clips
from tests.unit.test_quality import KRIPPENDORFF_C
from training_dashboard.services.quality import compute_quality, feedback_quality


async def _clips(client, db, settings, styles=("jazz", "rock", "ambient"), per_prompt=4):
    clips = []
    for style in styles:
        pid = (await client.post("/prompts", json={"text": f"{style} tune",
                                                   "attributes": {"style": style, "mood": "calm"}})).json()["id"]
        clips += make_clips(db, settings, pid, n=per_prompt)
    return clips


async def _raters(client, names):
    return [(await client.post("/raters", json={"name": n})).json()["id"] for n in names]


async def _rate(client, audio_id, rating, rater_id, tags=()):
    r = await client.post("/feedback", json={"audio_id": audio_id, "rating": rating, "rater_id": rater_id,
                                             "tags": list(tags)})
    assert r.status_code == 201, r.text


async def test_agreement_on_krippendorffs_example(client, db, settings):
    clips = await _clips(client, db, settings)
    raters = await _raters(client, ["A", "B", "C", "D"])
    for r, row in enumerate(KRIPPENDORFF_C):
        for u, value in enumerate(row):
            if not math.isnan(value):
                await _rate(client, clips[u], int(value), raters[r])
    body = (await client.get("/feedback/quality")).json()
    assert round(body["agreement"]["alpha"], 3) == 0.815
    assert body["agreement"]["clips"] == 11  # the last unit has one rater only
    assert body["agreement"]["ratings"] == 40 and body["agreement"]["raters"] == 4
    by_name = {r["name"]: r for r in body["raters"]}
    assert by_name["A"]["ratings"] == 9 and by_name["A"]["mean_rating"] == round(19 / 9, 4)
    assert by_name["B"]["shared_clips"] == 10  # B's unit 11 has nobody else
    assert not any(r["outlier"] for r in body["raters"])
    with db.session() as session:
        assert compute_quality(session, settings.readiness_min_rating).model_dump() == body
    # Anonymous ratings (from before raters; sign-in names every new one) do not enter the agreement.
    from training_dashboard import schemas
    from training_dashboard.services import feedback

    feedback.create_rating(db, schemas.FeedbackCreate(audio_id=clips[0], rating=5))
    again = (await client.get("/feedback/quality")).json()
    assert again["agreement"] == body["agreement"]


async def test_first_rating_is_the_vote_and_figures_follow_writes(client, db, settings):
    clips = await _clips(client, db, settings, styles=("jazz",), per_prompt=2)
    a, b = await _raters(client, ["A", "B"])
    await _rate(client, clips[0], 1, a)
    await _rate(client, clips[0], 5, b)
    await _rate(client, clips[1], 2, a)
    first = (await client.get("/feedback/quality")).json()
    assert first["agreement"]["clips"] == 1 and first["agreement"]["alpha"] == 0.0  # one unit, 1 vs 5
    await _rate(client, clips[1], 2, b)
    second = (await client.get("/feedback/quality")).json()
    assert second["agreement"]["clips"] == 2 and second["agreement"]["ratings"] == 4
    by_name = {r["name"]: r for r in second["raters"]}
    assert by_name["A"]["shared_clips"] == 2 and by_name["A"]["mean_distance"] == 2.0  # |1-5| and |2-2|
    await _rate(client, clips[0], 5, a)  # a second opinion does not replace the first vote
    third = (await client.get("/feedback/quality")).json()
    assert third["agreement"] == second["agreement"]
    assert {r["name"]: r["ratings"] for r in third["raters"] if r["ratings"]} == {"A": 3, "B": 2}
    # The incrementally kept report equals a direct computation from the rows.
    with db.session() as session:
        direct = compute_quality(session, settings.readiness_min_rating)
    assert feedback_quality(db, settings.readiness_min_rating) == direct
    await _raters(client, ["C"])  # a new rater shows up at once
    assert "C" in {r["name"] for r in (await client.get("/feedback/quality")).json()["raters"]}


async def test_incremental_equals_direct_on_a_random_workload(client, db, settings):
    from training_dashboard.services.agreement import rebuild_agreement

    clips = await _clips(client, db, settings, styles=("jazz", "rock"), per_prompt=4)
    raters = await _raters(client, ["A", "B", "C", "D"])
    rng = np.random.default_rng(3)
    for _ in range(60):
        clip, rater = int(rng.choice(clips)), int(rng.choice(raters))
        if rng.random() < 0.3:
            prompt_clips = clips[:4] if clip in clips[:4] else clips[4:]
            other = int(rng.choice([c for c in prompt_clips if c != clip]))
            r = await client.post("/preferences", json={"chosen_id": clip, "rejected_id": other, "rater_id": rater,
                                                        "tie": bool(rng.random() < 0.1)})
            assert r.status_code == 201
        elif rng.random() < 0.1:
            r = await client.post("/preferences/ranking", json={"audio_ids": [int(x) for x in rng.permutation(
                clips[:4])[:3]], "rater_id": rater})
            assert r.status_code == 201
        else:
            await _rate(client, clip, int(rng.integers(1, 6)), rater)
    served = feedback_quality(db, settings.readiness_min_rating)
    with db.session() as session:
        assert served == compute_quality(session, settings.readiness_min_rating)
    assert served.agreement.clips > 0 and served.preferences_checked > 0
    with db.write_session() as session:
        rebuild_agreement(session)
    assert feedback_quality(db, settings.readiness_min_rating) == served


async def test_outlier_flagged(client, db, settings):
    clips = await _clips(client, db, settings, styles=("jazz", "rock"), per_prompt=4)
    names = ["A", "B", "C", "D", "Contrarian"]
    raters = await _raters(client, names)
    rng = np.random.default_rng(0)
    for clip in clips:
        truth = int(rng.integers(1, 6))
        for rater in raters[:4]:
            await _rate(client, clip, int(np.clip(truth + rng.integers(-1, 2) * (rng.random() < 0.3), 1, 5)), rater)
        await _rate(client, clip, 6 - truth if truth != 3 else 1, raters[4])
    body = (await client.get("/feedback/quality")).json()
    flagged = [r["name"] for r in body["raters"] if r["outlier"]]
    assert flagged == ["Contrarian"], body["raters"]
    assert body["outlier_distance"] is not None


async def test_preference_consistency_and_triads(client, db, settings):
    clips = await _clips(client, db, settings, styles=("jazz",), per_prompt=3)
    a, b = await _raters(client, ["A", "B"])
    x, y, z = clips
    await _rate(client, x, 1, a)
    await _rate(client, y, 4, a)
    await _rate(client, z, 2, a)

    async def prefer(chosen, rejected, rater, tie=False):
        r = await client.post("/preferences", json={"chosen_id": chosen, "rejected_id": rejected, "rater_id": rater,
                                                    "tie": tie})
        assert r.status_code == 201

    await prefer(x, y, a)  # x rated 1, y rated 4: contradicts by 3 stars
    await prefer(y, z, a)  # consistent
    await prefer(z, x, a)  # z 2 vs x 1: consistent; and x>y>z>x is a cycle
    await prefer(x, z, a, tie=True)  # ties are not choices
    await prefer(y, x, b)  # B rated nothing: not checkable
    body = (await client.get("/feedback/quality")).json()
    by_name = {r["name"]: r for r in body["raters"]}
    assert by_name["A"]["preferences"] == 4 and by_name["A"]["preferences_checked"] == 3  # the tie is not checked
    assert by_name["A"]["contradictions"] == 1 and by_name["A"]["contradiction_rate"] == round(1 / 3, 4)
    assert by_name["A"]["intransitive_triads"] == 1
    assert by_name["B"]["preferences"] == 1 and by_name["B"]["preferences_checked"] == 0
    assert by_name["B"]["contradiction_rate"] is None
    assert body["contradictions"] == 1 and body["intransitive_triads"] == 1


async def test_coverage_names_thin_buckets(client, db, settings):
    clips = await _clips(client, db, settings, styles=("jazz", "rock"), per_prompt=3)
    jazz, rock = clips[:3], clips[3:]
    for clip in rock:
        await _rate(client, clip, 5, None, tags=["loud"])
        await _rate(client, clip, 4, None)
    await _rate(client, jazz[0], 4, None, tags=["smooth"])
    await _rate(client, jazz[1], 2, None, tags=["smooth"])
    cov = (await client.get("/feedback/quality")).json()["coverage"]
    assert cov["min_rating"] == 4
    assert cov["by_style"] == {"jazz": 1, "rock": 6} and cov["by_mood"] == {"calm": 7}
    assert cov["by_tag"] == {"loud": 3, "smooth": 1} and cov["by_adapter"] == {"base": 7}
    assert cov["thinnest"][0]["eligible"] == 1 and cov["thinnest"][0]["ratings"] == 2
    assert "only 1 eligible 'jazz' sample (style)" in cov["notes"]
    assert "only 1 eligible 'smooth' sample (tag)" in cov["notes"]


async def test_coverage_rebuild_equals_incremental(client, db, settings):
    from sqlalchemy import select

    from training_dashboard.db.models import AudioSample, CoverageCount, Rater
    from training_dashboard.services.coverage import rebuild_coverage
    from training_dashboard.services.raters import rebuild_rater_totals

    clips = await _clips(client, db, settings, styles=("Jazz ", "rock"), per_prompt=2)
    a, b = await _raters(client, ["A", "B"])
    for i, clip in enumerate(clips):
        await _rate(client, clip, 1 + i % 5, a, tags=["warm"] if i % 2 else [])
        await _rate(client, clip, 5 - i % 5, b)
        await _rate(client, clip, 3, a)
    await client.post("/preferences", json={"chosen_id": clips[0], "rejected_id": clips[1], "rater_id": b})

    def snapshot():
        with db.session() as s:
            cov = sorted(tuple(r) for r in s.execute(select(CoverageCount.kind, CoverageCount.value,
                                                            CoverageCount.rating, CoverageCount.count)))
            totals = sorted(tuple(r) for r in s.execute(select(Rater.name, Rater.rating_count, Rater.rating_sum,
                                                               Rater.preference_count)))
            per_clip = sorted(tuple(r) for r in s.execute(select(AudioSample.id, AudioSample.rater_count)))
        return cov, totals, per_clip

    before = snapshot()
    with db.write_session() as s:
        rebuild_coverage(s)
        rebuild_rater_totals(s)
    assert snapshot() == before
    assert ("style", "jazz", 1, 1) in before[0] and ("A", 8, 22, 0) in before[1] and ("B", 4, 14, 1) in before[1]
    assert {n for _, n in before[2]} == {2}


def test_reference_alpha_through_reliability_data():
    """The package's other entry point agrees with ours on the same matrix (oracle check)."""
    direct = krippendorff.alpha(reliability_data=np.array(KRIPPENDORFF_C), level_of_measurement="ordinal")
    assert round(direct, 3) == 0.815
