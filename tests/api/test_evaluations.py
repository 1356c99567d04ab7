"""Blind evaluations through the real API, database and job queue.

Generation jobs are finished through the worker interface of ``services.jobs`` (claim, write
a real WAV, complete), as ``tests/factories.make_clips`` does; the tiny model generating an
evaluation for real is covered in ``tests/engine/test_evaluation_worker.py`` and the e2e test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.factories import ANONYMOUS, make_clips, make_lora_dir, wav_bytes
from training_dashboard.api.app import create_app
from training_dashboard.db.models import EvaluationPair, EvaluationVote, GenerationJob, Preference
from training_dashboard.services import evaluation_votes, jobs, stats


async def register(client, settings, name: str, active: bool = False, dataset_id: int | None = None) -> int:
    make_lora_dir(settings.resolved_adapter_roots[0], name)
    body = {"name": name, "path": name, "is_active": active}
    if dataset_id is not None:
        body["dataset_id"] = dataset_id
    r = await client.post("/adapters", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def prompts(client, n: int, prefix: str = "held-out prompt") -> list[int]:
    return [(await client.post("/prompts", json={"text": f"{prefix} {i}"})).json()["id"] for i in range(n)]


async def rater(client, name: str) -> int:
    r = await client.post("/raters", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def finish_jobs(db, settings, fail: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    """Serve the queue the way the worker does: claim, write a real WAV, complete (or fail)."""
    done = 0
    for _ in range(10_000):
        job = jobs.claim_next_job(db)
        if job is None:
            return done
        if job.id in fail:
            jobs.fail_job(db, job.id, "Generation failed: test")
            continue
        rel = Path("audio") / f"eval-job-{job.id}.wav"
        (settings.resolved_data_dir / rel).write_bytes(wav_bytes(seconds=0.2, freq=110.0 + job.id))
        jobs.complete_job(db, job.id, [jobs.GeneratedSample(seed=job.params["seed"], duration=0.2,
                                                            sample_rate=32000, file_path=str(rel),
                                                            params=job.params)])
        done += 1
    raise AssertionError("queue never drained")


async def start(client, candidate: int, **body) -> dict:
    r = await client.post("/evaluations", json={"candidate_id": candidate, **body})
    assert r.status_code == 202, r.text
    return r.json()


def side_of(db, pair_id: int, rater_id: int) -> bool:
    """Whether the candidate was recorded as played first for this pair and rater."""
    with db.session() as session:
        return session.scalar(select(EvaluationVote.candidate_first).where(
            EvaluationVote.pair_id == pair_id, EvaluationVote.rater_id == rater_id))


async def vote_for(client, db, evaluation_id: int, rater_id: int, winner: str) -> dict:
    """Ask for the next pair and vote for ``winner`` ("candidate", "baseline" or "tie")."""
    r = await client.get(f"/evaluations/{evaluation_id}/next", params={"rater_id": rater_id})
    assert r.status_code == 200, r.text
    pair = r.json()
    if winner == "tie":
        choice = "tie"
    else:
        candidate_first = side_of(db, pair["pair_id"], rater_id)
        choice = "first" if (winner == "candidate") == candidate_first else "second"
    r = await client.post(f"/evaluations/{evaluation_id}/votes",
                          json={"pair_id": pair["pair_id"], "rater_id": rater_id, "choice": choice})
    assert r.status_code == 201, r.text
    return pair


async def test_create_queues_both_sides_with_the_same_seed_and_moves_to_voting(client, db, settings):
    candidate = await register(client, settings, "cand")  # inactive: an evaluation may precede activation
    await prompts(client, 8)
    ev = await start(client, candidate, num_prompts=6, seed=42, duration=2.0)
    assert ev["status"] == "generating" and ev["pairs_total"] == 6 and ev["pairs_ready"] == 0 and ev["votes"] == 0
    assert ev["candidate_label"] == "cand@1.0.0" and ev["baseline_label"] == "base" and ev["baseline_id"] is None
    assert len(ev["prompt_ids"]) == 6 and len(set(ev["prompt_ids"])) == 6
    with db.session() as session:
        pairs = list(session.scalars(select(EvaluationPair).where(EvaluationPair.evaluation_id == ev["id"])))
        for pair in pairs:
            cand = session.get(GenerationJob, pair.candidate_job_id)
            base = session.get(GenerationJob, pair.baseline_job_id)
            assert cand.adapter_id == candidate and base.adapter_id is None
            assert cand.prompt_id == base.prompt_id == pair.prompt_id
            assert cand.params == base.params and cand.params["seed"] == pair.seed and cand.params["duration"] == 2.0
            assert cand.status == base.status == "queued"
    # the same seed draws the same prompts and pair seeds
    again = await start(client, candidate, num_prompts=6, seed=42)
    assert again["prompt_ids"] == ev["prompt_ids"]
    finish_jobs(db, settings)
    ev = (await client.get(f"/evaluations/{ev['id']}")).json()
    assert ev["status"] == "voting" and ev["pairs_ready"] == 6 and ev["clips_ready"] == 12
    assert ev["result"]["verdict"] == "inconclusive" and ev["result"]["final"] is False


async def test_failed_jobs_leave_their_pair_out(client, db, settings):
    candidate = await register(client, settings, "cand")
    await prompts(client, 5)
    ev = await start(client, candidate, num_prompts=5, seed=1)
    with db.session() as session:
        first_job = session.scalar(select(EvaluationPair.candidate_job_id).where(
            EvaluationPair.evaluation_id == ev["id"], EvaluationPair.position == 0))
    finish_jobs(db, settings, fail={first_job})
    ev = (await client.get(f"/evaluations/{ev['id']}")).json()
    assert ev["status"] == "voting" and ev["pairs_ready"] == 4 and ev["pairs_failed"] == 1


@pytest.mark.parametrize("body", [
    {"num_prompts": 4}, {"num_prompts": 201}, {"num_prompts": 5.5}, {"num_prompts": "5"}, {"candidate_id": 0},
    {"candidate_id": 2**31}, {"baseline_id": 1}, {"prompt_ids": [1, 1, 2, 3, 4]}, {"prompt_ids": [1, 2, 3]},
    {"prompt_ids": [1, 2, 3, 4, 5], "num_prompts": 6}, {"seed": -1}, {"seed": 2**32}, {"duration": 0},
    {"duration": 31}, {"votes_per_pair": 0}, {"colour": "red"}, {"candidate_id": None},
])
async def test_create_validation(client, body):
    r = await client.post("/evaluations", json={"candidate_id": 1, **body})
    assert r.status_code == 422, (body, r.text)
    assert r.json()["detail"]


async def test_create_refusals_name_the_reason(client, db, settings):
    assert (await client.post("/evaluations", json={"candidate_id": 99})).status_code == 404
    candidate = await register(client, settings, "cand")
    r = await client.post("/evaluations", json={"candidate_id": candidate, "baseline_id": 99})
    assert r.status_code == 404 and "baseline" in r.json()["detail"]
    make_lora_dir(settings.resolved_adapter_roots[0], "large", base_model="facebook/musicgen-large")
    large = (await client.post("/adapters", json={"name": "large", "path": "large"})).json()["id"]
    r = await client.post("/evaluations", json={"candidate_id": large})
    assert r.status_code == 400 and "musicgen-large" in r.json()["detail"]
    await prompts(client, 3)
    r = await client.post("/evaluations", json={"candidate_id": candidate, "num_prompts": 5})
    assert r.status_code == 400 and "Only 3 held-out prompt(s) exist" in r.json()["detail"]
    r = await client.post("/evaluations", json={"candidate_id": candidate, "prompt_ids": [1, 2, 3, 77, 78]})
    assert r.status_code == 404 and "77" in r.json()["detail"]
    with db.session() as session:
        assert session.scalar(select(GenerationJob.id)) is None  # nothing was queued by a refused request


async def _trained_adapter(client, db, settings) -> tuple[int, list[int], list[str]]:
    """An adapter whose dataset holds ratings of three prompts; returns it, their ids and texts."""
    texts = ["Dark Techno at 130", "warm  lo-fi   piano", "epic choir"]
    training = [(await client.post("/prompts", json={"text": t})).json()["id"] for t in texts]
    for pid in training:
        (clip,) = make_clips(db, settings, pid, n=1)
        assert (await client.post("/feedback", json={"audio_id": clip, "rating": 5})).status_code == 201
    dataset = (await client.post("/datasets", json={"name": "train", "filter": {"min_rating": 4}})).json()
    assert dataset["sample_count"] == 3
    return await register(client, settings, "trained", dataset_id=dataset["id"]), training, texts


async def test_held_out_selection_never_returns_a_training_prompt(client, db, settings):
    candidate, training, _ = await _trained_adapter(client, db, settings)
    # The same texts again under new ids (case and spacing differ): held out by text too.
    copies = [(await client.post("/prompts", json={"text": t})).json()["id"]
              for t in ["dark techno at 130", "Warm lo-fi piano ", "EPIC   CHOIR"]]
    held_out = await prompts(client, 6)
    for seed in range(25):
        ev = await start(client, candidate, num_prompts=5, seed=seed)
        assert set(ev["prompt_ids"]) <= set(held_out), seed
        assert not set(ev["prompt_ids"]) & set(training + copies)
    r = await client.post("/evaluations", json={"candidate_id": candidate, "num_prompts": 7})
    assert r.status_code == 400 and "Only 6 held-out prompt(s)" in r.json()["detail"]
    for bad in (training[0], copies[1]):
        r = await client.post("/evaluations", json={"candidate_id": candidate, "prompt_ids": [*held_out[:4], bad]})
        assert r.status_code == 400 and str(bad) in r.json()["detail"] and "held-out" in r.json()["detail"]
    ev = await start(client, candidate, prompt_ids=held_out[:5])
    assert ev["prompt_ids"] == held_out[:5] and ev["pairs_total"] == 5


async def test_a_baseline_adapter_holds_out_its_training_prompts_too(client, db, settings):
    trained, training, _ = await _trained_adapter(client, db, settings)
    candidate = await register(client, settings, "fresh")
    held_out = await prompts(client, 5)
    r = await client.post("/evaluations", json={"candidate_id": candidate, "baseline_id": trained,
                                                "prompt_ids": [*held_out[:4], training[2]]})
    assert r.status_code == 400
    ev = await start(client, candidate, baseline_id=trained, num_prompts=5, seed=3)
    assert sorted(ev["prompt_ids"]) == sorted(held_out) and ev["baseline_label"] == "trained@1.0.0"


def test_side_assignment_is_exactly_balanced_and_independent_per_rater():
    for seed in (0, 7, 2**32 - 1):
        a, b = evaluation_votes.rater_sides(seed, 1, 200), evaluation_votes.rater_sides(seed, 2, 200)
        assert sum(a) == sum(b) == 100
        assert a != b and a == evaluation_votes.rater_sides(seed, 1, 200)
        assert sorted(evaluation_votes.rater_order(seed, 1, 200)) == list(range(200))
    odd = evaluation_votes.rater_sides(5, 1, 7)
    assert sum(odd) in (3, 4) and len(odd) == 7


async def test_sides_recorded_on_the_server_are_balanced_over_200_pairs(client, db, settings):
    candidate = await register(client, settings, "cand")
    await prompts(client, 200)
    ev = await start(client, candidate, num_prompts=200, seed=2026, duration=1.0)
    finish_jobs(db, settings)
    ann = await rater(client, "Ann")
    seen = set()
    for _ in range(200):
        pair = await vote_for(client, db, ev["id"], ann, "candidate")
        seen.add(pair["pair_id"])
    assert len(seen) == 200
    assert (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ann})).status_code == 204
    with db.session() as session:
        recorded = list(session.scalars(select(EvaluationVote).where(EvaluationVote.evaluation_id == ev["id"])))
    assert len(recorded) == 200 and sum(v.candidate_first for v in recorded) == 100
    # The rater always chose the candidate: half the votes went to the first-played side.
    result = (await client.get(f"/evaluations/{ev['id']}")).json()["result"]
    assert result["candidate_wins"] == 200 and result["first_side_share"] == 0.5
    assert all(v.winner == "candidate" for v in recorded)


async def test_next_is_blind_and_streams_the_recorded_side(client, db, settings):
    candidate = await register(client, settings, "secret-adapter-name")
    await prompts(client, 5)
    ev = await start(client, candidate, num_prompts=5, seed=9)
    finish_jobs(db, settings)
    ann = await rater(client, "Ann")
    r = await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ann})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"evaluation_id", "pair_id", "prompt_text", "first", "second", "voted", "ready"}
    assert set(body["first"]) == set(body["second"]) == {"stream_url"}
    text = json.dumps(body)
    assert "adapter" not in text and "secret" not in text and "/audio/" not in text and "candidate" not in text
    # Asking again serves the same pair with the same sides (recorded, not redrawn).
    assert (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ann})).json() == body
    with db.session() as session:
        pair = session.get(EvaluationPair, body["pair_id"])
    candidate_first = side_of(db, body["pair_id"], ann)
    first_clip = pair.candidate_audio_id if candidate_first else pair.baseline_audio_id
    heard = (await client.get(body["first"]["stream_url"].removeprefix("/api"))).content
    assert heard == (await client.get(f"/audio/{first_clip}/stream")).content
    partial = await client.get(body["second"]["stream_url"].removeprefix("/api"), headers={"Range": "bytes=0-9"})
    assert partial.status_code == 206 and len(partial.content) == 10
    # a pair never served to a rater has nothing to stream for them
    bob = await rater(client, "Bob")
    r = await client.get(f"/evaluations/{ev['id']}/pairs/{body['pair_id']}/first/stream", params={"rater_id": bob})
    assert r.status_code == 404


async def test_blind_stream_urls_are_signed(app, client, settings):
    candidate = await register(client, settings, "cand")
    await prompts(client, 5)
    ev = await start(client, candidate, num_prompts=5, seed=4)
    finish_jobs(app.state.db, settings)
    ann = await rater(client, "Ann")
    pair = (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ann})).json()
    url = pair["first"]["stream_url"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                 headers=ANONYMOUS) as browser:
        assert (await browser.get(url)).status_code == 200  # signed: no credentials needed
        assert (await browser.get(url.replace("first", "second"))).status_code == 401  # the signature binds the slot
        assert (await browser.get(url.replace(f"rater_id={ann}", "rater_id=99"))).status_code == 401


async def test_votes_are_one_per_rater_and_pair(client, db, settings):
    candidate = await register(client, settings, "cand")
    await prompts(client, 5)
    ev = await start(client, candidate, num_prompts=5, seed=11, votes_per_pair=2)
    ann, bob = await rater(client, "Ann"), await rater(client, "Bob")
    r = await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ann})
    assert r.status_code == 204  # nothing generated yet
    finish_jobs(db, settings)
    pair = (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ann})).json()
    url = f"/evaluations/{ev['id']}/votes"
    # a pair not served to Bob: his "first" would mean nothing
    r = await client.post(url, json={"pair_id": pair["pair_id"], "rater_id": bob, "choice": "first"})
    assert r.status_code == 409 and "not served" in r.json()["detail"]
    body = {"pair_id": pair["pair_id"], "rater_id": ann, "choice": "first"}
    answers = await asyncio.gather(*(client.post(url, json=body) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    assert (await client.post(url, json={**body, "choice": "tie"})).status_code == 409
    ev_now = (await client.get(f"/evaluations/{ev['id']}")).json()
    assert ev_now["votes"] == 1
    with db.session() as session:
        prefs = list(session.scalars(select(Preference).where(Preference.evaluation_id == ev["id"])))
    assert len(prefs) == 1 and prefs[0].rater_id == ann and prefs[0].rater == "Ann" and not prefs[0].tie
    # Bob hears the same pair after being served it, and may vote on it once too.
    for _ in range(5):
        nxt = (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": bob})).json()
        assert (await client.post(url, json={"pair_id": nxt["pair_id"], "rater_id": bob,
                                             "choice": "tie"})).status_code == 201
    assert (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": bob})).status_code == 204
    with db.session() as session:  # ties are not preference pairs
        assert len(list(session.scalars(select(Preference).where(Preference.evaluation_id == ev["id"])))) == 1


@pytest.mark.parametrize("body", [
    {"choice": "left"}, {"choice": None}, {"pair_id": 0}, {"rater_id": 0}, {"pair_id": "x"}, {"extra": 1},
])
async def test_vote_validation(client, body):
    r = await client.post("/evaluations/1/votes", json={"pair_id": 1, "rater_id": 1, "choice": "first", **body})
    assert r.status_code == 422, body


async def test_not_found_and_bad_queries(client, db, settings):
    assert (await client.get("/evaluations/5")).status_code == 404
    assert (await client.post("/evaluations/5/cancel")).status_code == 404
    assert (await client.get("/evaluations/0")).status_code == 422
    assert (await client.get("/evaluations/5/next")).status_code == 404  # sign-in: the rater is yourself
    assert (await client.get("/evaluations/5/next", params={"rater_id": 1})).status_code == 404
    assert (await client.get("/evaluations", params={"status": "done"})).status_code == 422
    assert (await client.get("/evaluations", params={"adapter_id": "x"})).status_code == 422
    assert (await client.get("/evaluations/5/pairs/1/third/stream", params={"rater_id": 1})).status_code == 422
    candidate = await register(client, settings, "cand")
    await prompts(client, 5)
    ev = await start(client, candidate, num_prompts=5, seed=2)
    assert (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": 42})).status_code == 403  # not yours
    r = await client.post(f"/evaluations/{ev['id']}/votes", json={"pair_id": 999, "rater_id": 1, "choice": "tie"})
    assert r.status_code == 404


async def test_result_statistics_equal_services_stats(client, db, settings):
    """30 candidate wins, 10 baseline wins, 5 ties from three raters, 15 pairs, 3 votes each."""
    candidate = await register(client, settings, "cand")
    await prompts(client, 15)
    ev = await start(client, candidate, num_prompts=15, seed=5, votes_per_pair=3)
    finish_jobs(db, settings)
    plan = {"Ann": ["candidate"] * 12 + ["baseline"] * 2 + ["tie"],
            "Bob": ["candidate"] * 10 + ["baseline"] * 3 + ["tie"] * 2,
            "Cy": ["candidate"] * 8 + ["baseline"] * 5 + ["tie"] * 2}
    ids = {}
    for name, winners in plan.items():
        rid = ids[name] = await rater(client, name)
        for winner in winners:
            await vote_for(client, db, ev["id"], rid, winner)
    detail = (await client.get(f"/evaluations/{ev['id']}")).json()
    result = detail["result"]
    expected = stats.win_rate(30, 10, 5)
    assert detail["status"] == "completed" and result["final"] is True and detail["votes"] == 45
    assert (result["candidate_wins"], result["baseline_wins"], result["ties"]) == (30, 10, 5)
    assert result["win_rate"] == expected.win_rate == 0.75
    assert result["ci_low"] == pytest.approx(expected.ci_low) and result["ci_high"] == pytest.approx(expected.ci_high)
    assert result["p_value"] == pytest.approx(expected.p_value)
    assert result["verdict"] == expected.verdict == "better" and detail["verdict"] == "better"
    assert [(t["name"], t["candidate_wins"], t["baseline_wins"], t["ties"]) for t in result["per_rater"]] == [
        ("Ann", 12, 2, 1), ("Bob", 10, 3, 2), ("Cy", 8, 5, 2)]
    with db.session() as session:
        votes = list(session.scalars(select(EvaluationVote).where(EvaluationVote.evaluation_id == ev["id"])))
    first = sum(1 for v in votes if v.choice == "first")
    share = stats.first_side_share(first, 40 - first)
    assert result["first_side_share"] == pytest.approx(share.rate)
    assert result["first_side_ci_low"] == pytest.approx(share.ci_low)
    # completed: no more votes, nothing to serve
    assert (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ids["Ann"]})).status_code == 204
    late = {"pair_id": 1, "rater_id": ids["Ann"], "choice": "tie"}
    r = await client.post(f"/evaluations/{ev['id']}/votes", json=late)
    assert r.status_code == 409 and "completed" in r.json()["detail"]
    # The verdict reaches the adapter (list and detail) and the leaderboard counts the 40 votes.
    listed = (await client.get("/adapters")).json()["items"][0]["evaluation"]
    assert listed["verdict"] == "better" and listed["evaluation_id"] == ev["id"] and listed["votes"] == 45
    assert listed["ci_low"] == pytest.approx(expected.ci_low)
    assert (await client.get(f"/adapters/{candidate}")).json()["evaluation"] == listed
    board = (await client.get("/leaderboard")).json()
    assert board["games"] == 40
    assert (await client.get("/feedback/stats")).json()["preference_pairs"] == 40
    # list filters
    listed = (await client.get("/evaluations", params={"adapter_id": candidate, "status": "completed"})).json()
    assert [e["id"] for e in listed["items"]] == [ev["id"]]
    assert (await client.get("/evaluations", params={"status": "voting"})).json()["items"] == []


async def test_adapters_without_evaluation_say_none_and_list_stays_one_query(client, db, settings):
    a = await register(client, settings, "a")
    item = (await client.get(f"/adapters/{a}")).json()
    assert item["evaluation"] == {"verdict": "none", "evaluation_id": None, "win_rate": None, "ci_low": None,
                                  "ci_high": None, "p_value": None, "votes": 0}
    from sqlalchemy import event

    for i in range(5):
        await register(client, settings, f"more{i}")
    statements = []

    def count(*_):  # type: ignore[no-untyped-def]
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert len((await client.get("/adapters")).json()["items"]) == 6
        few = len(statements)
        for i in range(5, 25):
            await register(client, settings, f"more{i}")
        statements.clear()
        assert len((await client.get("/adapters")).json()["items"]) == 26
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == few  # the verdicts of a page cost one query, however many adapters


async def test_cancel_stops_generation_and_votes(client, db, settings):
    candidate = await register(client, settings, "cand")
    await prompts(client, 5)
    ev = await start(client, candidate, num_prompts=5, seed=8)
    running = jobs.claim_next_job(db)
    r = await client.post(f"/evaluations/{ev['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    with db.session() as session:
        statuses = [j.status for j in session.scalars(select(GenerationJob).order_by(GenerationJob.id))]
        asked = session.get(GenerationJob, running.id).cancel_requested
    assert statuses[0] == "processing" and asked and set(statuses[1:]) == {"cancelled"}
    assert jobs.set_progress(db, running.id, 0.5) is False  # the worker is told to stop
    assert (await client.post(f"/evaluations/{ev['id']}/cancel")).status_code == 409
    ann = await rater(client, "Ann")
    assert (await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": ann})).status_code == 204
    assert (await client.get("/evaluations", params={"status": "cancelled"})).json()["total"] == 1


async def test_client_methods(api, client, db, settings):
    from training_dashboard import schemas

    candidate = await register(client, settings, "cand")
    await prompts(client, 5)
    ev = await api.create_evaluation(schemas.EvaluationCreate(candidate_id=candidate, num_prompts=5, seed=1))
    assert ev.status == "generating" and ev.pairs_total == 5
    finish_jobs(db, settings)
    rid = (await api.create_rater(schemas.RaterCreate(name="Ann"))).id
    for _ in range(5):
        pair = await api.next_evaluation_pair(ev.id, rid)
        assert pair is not None
        await api.vote(ev.id, schemas.EvaluationVoteCreate(pair_id=pair.pair_id, rater_id=rid, choice="second"))
    assert await api.next_evaluation_pair(ev.id, rid) is None
    progress = await api.evaluation_progress(ev.id, rid)
    assert progress.voted == 5 and progress.status == "completed"
    assert (await api.get_evaluation(ev.id)).result.final
    assert (await api.list_evaluations(adapter_id=candidate)).total == 1


# --- the activation gate ---------------------------------------------------------------------


@pytest.fixture
async def gated(settings):
    from training_dashboard.config import Settings

    gated_settings = Settings(**{**settings.model_dump(), "require_evaluation": True})
    app = create_app(gated_settings, with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api") as client:
        yield client, app.state.db, gated_settings
    app.state.db.dispose()


async def test_gate_is_off_by_default(client, settings):
    a = await register(client, settings, "fresh")
    r = await client.post(f"/adapters/{a}/activate")
    assert r.status_code == 200 and r.json()["is_active"] and r.json()["forced_activation_reason"] is None


async def test_gate_refuses_without_a_better_verdict_unless_forced_with_a_reason(gated):
    client, db, settings = gated
    a = await register(client, settings, "fresh")
    r = await client.post(f"/adapters/{a}/activate")
    assert r.status_code == 409 and "no completed evaluation" in r.json()["detail"]
    assert (await client.patch(f"/adapters/{a}", json={"is_active": True})).status_code == 409
    make_lora_dir(settings.resolved_adapter_roots[0], "born-active")
    r = await client.post("/adapters", json={"name": "born-active", "path": "born-active", "is_active": True})
    assert r.status_code == 409 and "TD_REQUIRE_EVALUATION" in r.json()["detail"]
    for body in ({"force": True}, {"force": True, "reason": "   "}, {"force": True, "reason": "x" * 501},
                 {"reason": "why not"}, {"force": "yes please"}, {"force": True, "reason": "bad\x00"}):
        r = await client.post(f"/adapters/{a}/activate", json=body)
        assert r.status_code == 422, body
    assert (await client.get(f"/adapters/{a}")).json()["is_active"] is False
    # An inconclusive evaluation still does not open the gate, and the 409 says what it found.
    await prompts(client, 5)
    ev = await start(client, a, num_prompts=5, seed=3)
    finish_jobs(db, settings)
    rid = await rater(client, "Ann")
    for winner in ["candidate", "baseline", "candidate", "tie", "baseline"]:
        await vote_for(client, db, ev["id"], rid, winner)
    r = await client.post(f"/adapters/{a}/activate")
    assert r.status_code == 409 and "'inconclusive'" in r.json()["detail"] and f"#{ev['id']}" in r.json()["detail"]
    r = await client.post(f"/adapters/{a}/activate", json={"force": True, "reason": "  Demo for the label, A.B.  "})
    assert r.status_code == 200, r.text
    forced = r.json()
    assert forced["is_active"] and forced["forced_activation_reason"] == "Demo for the label, A.B."
    assert forced["forced_activation_at"] is not None and forced["evaluation"]["verdict"] == "inconclusive"
    listed = (await client.get("/adapters")).json()["items"][0]
    assert listed["forced_activation_reason"] == "Demo for the label, A.B."


async def test_gate_opens_on_a_better_verdict(gated):
    client, db, settings = gated
    a = await register(client, settings, "good")
    await prompts(client, 10)
    ev = await start(client, a, num_prompts=10, seed=6)
    finish_jobs(db, settings)
    rid = await rater(client, "Ann")
    for _ in range(10):
        await vote_for(client, db, ev["id"], rid, "candidate")
    verdict = (await client.get(f"/adapters/{a}")).json()["evaluation"]
    assert verdict["verdict"] == "better" and verdict["win_rate"] == 1.0
    r = await client.post(f"/adapters/{a}/activate")
    assert r.status_code == 200 and r.json()["is_active"] and r.json()["forced_activation_reason"] is None
