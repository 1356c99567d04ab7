"""Listening data and reasons with blind votes: stored by slot, refused when wrong or short of the
listen gate, the verdict from attentive votes only, each pair's reasons once complete, and planning."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from tests.api.test_evaluations import finish_jobs, prompts, rater, register, side_of, start
from training_dashboard.api.app import create_app
from training_dashboard.db.models import EvaluationPair, Listening, Preference
from training_dashboard.services import evaluation_plan, stats

CLIP_S = 0.2  # tests/api/test_evaluations.finish_jobs writes 0.2 s clips


def slots(first: float, second: float, decision_ms: int | None = 900) -> dict:
    return {"clips": [{"slot": "first", "heard_s": first, "duration_s": CLIP_S, "plays": 1, "seeks": 0},
                      {"slot": "second", "heard_s": second, "duration_s": CLIP_S, "plays": 2, "seeks": 1}],
            "decision_ms": decision_ms}


async def evaluation(client, db, settings, n: int = 5, votes_per_pair: int = 1) -> dict:
    candidate = await register(client, settings, "cand")
    await prompts(client, n)
    ev = await start(client, candidate, num_prompts=n, seed=7, votes_per_pair=votes_per_pair)
    finish_jobs(db, settings)
    return ev


async def serve(client, ev: dict, rater_id: int) -> dict:
    r = await client.get(f"/evaluations/{ev['id']}/next", params={"rater_id": rater_id})
    assert r.status_code == 200, r.text
    return r.json()


def choice_for(db, pair_id: int, rater_id: int, winner: str) -> str:
    if winner == "tie":
        return "tie"
    return "first" if (winner == "candidate") == side_of(db, pair_id, rater_id) else "second"


async def test_vote_listening_is_stored_by_slot_with_its_reason(client, db, settings, api):
    ev = await evaluation(client, db, settings)
    listener = await rater(client, "Ana")
    pair = await serve(client, ev, listener)
    body = {"pair_id": pair["pair_id"], "rater_id": listener, "choice": choice_for(db, pair["pair_id"], listener,
                                                                                   "candidate"),
            "listening": slots(0.2, 0.1), "reason": "cleaner drums"}
    r = await client.post(f"/evaluations/{ev['id']}/votes", json=body)
    assert r.status_code == 201, r.text
    vote = r.json()
    assert vote["reason"] == "cleaner drums" and vote["listening"]["heard_fraction"] == pytest.approx(0.5)
    assert [(c["slot"], c["audio_id"]) for c in vote["listening"]["clips"]] == [("first", None), ("second", None)]
    with db.session() as session:  # stored with the clip each slot was, never shown to the listener
        stored = {row.slot: row.audio_id for row in session.scalars(select(Listening).where(Listening.kind == "vote"))}
        p = session.get(EvaluationPair, pair["pair_id"])
        first = p.candidate_audio_id if side_of(db, pair["pair_id"], listener) else p.baseline_audio_id
        assert stored["first"] == first and set(stored.values()) == {p.candidate_audio_id, p.baseline_audio_id}
        pref = session.scalars(select(Preference).where(Preference.evaluation_id == ev["id"])).one()
        assert pref.reason == "cleaner drums" and pref.heard_fraction == pytest.approx(0.5) and pref.decision_ms == 900
    # The client passes both fields.
    from training_dashboard import schemas

    pair = await serve(client, ev, listener)
    sent = await api.vote(ev["id"], schemas.EvaluationVoteCreate(
        pair_id=pair["pair_id"], rater_id=listener, choice="tie", reason="same",
        listening=schemas.VoteListening.model_validate(slots(0.2, 0.2))))
    assert sent.reason == "same" and sent.listening is not None and sent.listening.heard_fraction == 1.0


async def test_bad_vote_listening_is_refused_and_the_pair_stays_open(client, db, settings):
    ev = await evaluation(client, db, settings)
    listener = await rater(client, "Ben")
    pair = await serve(client, ev, listener)
    base = {"pair_id": pair["pair_id"], "rater_id": listener, "choice": "tie"}
    one = slots(0.1, 0.1)
    cases = [
        ({"listening": {"clips": [{**one["clips"][0], "audio_id": 1}]}}, "listening.clips.0.audio_id"),
        ({"listening": {"clips": [{**one["clips"][0], "slot": "third"}]}}, "listening.clips.0.slot"),
        ({"listening": {"clips": [one["clips"][0]]}}, "listening.clips: clip second"),
        ({"listening": {"clips": [one["clips"][0], one["clips"][0]]}}, "listening.clips"),
        ({"listening": slots(0.1, CLIP_S + 0.3)}, "listening.clips.1.heard_s"),
        ({"listening": slots(0.1, 0.1, decision_ms=10**9)}, "listening.decision_ms"),
        ({"reason": "r" * 501}, "reason"),
    ]
    for change, field in cases:
        r = await client.post(f"/evaluations/{ev['id']}/votes", json={**base, **change})
        assert r.status_code == 422 and r.json()["detail"].startswith(field), (change, r.text)
    r = await client.post(f"/evaluations/{ev['id']}/votes", json={**base, "listening": slots(0.1, 0.1)})
    assert r.status_code == 201, r.text


async def test_gate_refuses_an_unheard_vote_and_accepts_a_heard_one(client, db, settings):
    ev = await evaluation(client, db, settings)
    listener = await rater(client, "Cy")
    app = create_app(settings.model_copy(update={"min_listen": "1s"}), with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api") as gated:
        pair = await serve(gated, ev, listener)
        base = {"pair_id": pair["pair_id"], "rater_id": listener, "choice": "first"}
        r = await gated.post(f"/evaluations/{ev['id']}/votes", json=base)
        assert r.status_code == 422 and "listen gate" in r.json()["detail"]
        r = await gated.post(f"/evaluations/{ev['id']}/votes", json={**base, "listening": slots(0.0, 0.2)})
        assert r.status_code == 422  # 1 s asked, but a 0.2 s clip can only be heard 0.2 s
        assert "first clip: heard 0.0 s of the required 0.2 s" in r.json()["detail"]
        assert "second clip" not in r.json()["detail"]
        r = await gated.post(f"/evaluations/{ev['id']}/votes", json={**base, "listening": slots(0.2, 0.2)})
        assert r.status_code == 201, r.text
        progress = (await gated.get(f"/evaluations/{ev['id']}/progress", params={"rater_id": listener})).json()
        assert progress["voted"] == 1
    app.state.db.dispose()


async def test_verdict_from_attentive_votes_and_listeners(client, db, settings, api):
    ev = await evaluation(client, db, settings, n=6, votes_per_pair=2)
    keen, hasty = await rater(client, "Keen"), await rater(client, "Hasty")
    for _ in range(6):  # Keen hears both clips and prefers the candidate; Hasty barely listens, prefers the baseline
        pair = await serve(client, ev, keen)
        r = await client.post(f"/evaluations/{ev['id']}/votes", json={
            "pair_id": pair["pair_id"], "rater_id": keen, "choice": choice_for(db, pair["pair_id"], keen, "candidate"),
            "listening": slots(0.2, 0.2, decision_ms=3000), "reason": f"pair {pair['pair_id']}: candidate"})
        assert r.status_code == 201, r.text
        pair = await serve(client, ev, hasty)
        body = {"pair_id": pair["pair_id"], "rater_id": hasty,
                "choice": choice_for(db, pair["pair_id"], hasty, "baseline")}
        if pair["pair_id"] % 2:
            body["listening"] = slots(0.02, 0.2, decision_ms=50)
        assert (await client.post(f"/evaluations/{ev['id']}/votes", json=body)).status_code == 201
    detail = (await client.get(f"/evaluations/{ev['id']}", params={"min_heard": 0.5})).json()
    assert detail["status"] == "completed" and detail["result"]["verdict"] == "inconclusive"
    attentive = detail["attentive"]
    expected = stats.win_rate(6, 0, 0)
    assert attentive["votes"] == 6 and attentive["dropped"] == 6 and attentive["min_heard"] == 0.5
    assert (attentive["candidate_wins"], attentive["baseline_wins"], attentive["ties"]) == (6, 0, 0)
    assert attentive["verdict"] == expected.verdict == "better"
    assert attentive["ci_low"] == pytest.approx(expected.ci_low) and attentive["p_value"] == pytest.approx(
        expected.p_value)
    listeners = {t["name"]: t for t in detail["result"]["per_rater"]}
    assert listeners["Keen"]["listened"] == 6 and listeners["Keen"]["median_heard"] == 1.0
    assert listeners["Keen"]["fast_share"] == 0.0 and listeners["Keen"]["unattentive"] is False
    assert listeners["Hasty"]["unattentive"] is True and listeners["Hasty"]["fast_share"] in (1.0, None)
    assert (await client.get(f"/evaluations/{ev['id']}")).json()["attentive"] is None
    everything = (await api.get_evaluation(ev["id"], min_heard=0.0)).attentive
    assert everything is not None and everything.votes + everything.dropped == 12
    r = await client.get(f"/evaluations/{ev['id']}", params={"min_heard": 1.5})
    assert r.status_code == 422 and "min_heard" in r.json()["detail"]


async def test_pair_detail_shows_reasons_once_complete(client, db, settings, api):
    ev = await evaluation(client, db, settings, n=5)
    listener = await rater(client, "Dee")
    reasons = {}
    for i in range(5):
        pair = await serve(client, ev, listener)
        if i == 1:
            r = await client.get(f"/evaluations/{ev['id']}/pairs")
            assert r.status_code == 409 and "complete" in r.json()["detail"]
        reason = None if i == 0 else f"reason {i}"
        reasons[pair["pair_id"]] = reason
        body = {"pair_id": pair["pair_id"], "rater_id": listener, "choice": "tie" if i == 4 else "first",
                "reason": reason, "listening": slots(0.2, 0.1)}
        assert (await client.post(f"/evaluations/{ev['id']}/votes", json=body)).status_code == 201
    pairs = await api.evaluation_pairs(ev["id"])
    assert [p.position for p in pairs] == list(range(5))
    assert {p.pair_id: p.votes[0].reason for p in pairs} == reasons
    assert all(len(p.votes) == 1 and p.votes[0].name == "Dee" and p.votes[0].heard_fraction == 0.5 for p in pairs)
    assert sum(p.votes[0].winner == "tie" for p in pairs) == 1
    assert (await client.get("/evaluations/999999/pairs")).status_code == 404


async def test_plan_matches_the_maths_and_uses_past_ties(client, db, settings, api):
    plan = (await client.get("/evaluations/plan", params={"pairs": 50, "expected_win_rate": 0.7})).json()
    assert plan["tie_rate"] == 0 and plan["past_evaluations"] == 0
    assert plan["detectable_win_rate"] == evaluation_plan.detectable_win_rate(50)
    assert plan["pairs_needed"] == evaluation_plan.pairs_needed(0.7)
    assert 0.5 < plan["detectable_win_rate"] < 1 and plan["pairs_needed"] > 10
    tiny = await api.plan_evaluation(5)
    assert tiny.detectable_win_rate is None and tiny.pairs_needed is None  # 5 pairs never reach 5 %
    for params in ({"pairs": 0}, {"pairs": 50, "expected_win_rate": 1.5}, {}):
        assert (await client.get("/evaluations/plan", params=params)).status_code == 422
    # A completed evaluation with ties sets the tie rate.
    ev = await evaluation(client, db, settings, n=5)
    listener = await rater(client, "Eve")
    for i in range(5):
        pair = await serve(client, ev, listener)
        await client.post(f"/evaluations/{ev['id']}/votes", json={"pair_id": pair["pair_id"], "rater_id": listener,
                                                                  "choice": "tie" if i < 2 else "first"})
    plan = (await client.get("/evaluations/plan", params={"pairs": 50})).json()
    assert plan["tie_rate"] == 0.4 and plan["past_evaluations"] == 1
    assert plan["detectable_win_rate"] == evaluation_plan.detectable_win_rate(50, 0.4)
    assert plan["detectable_win_rate"] > evaluation_plan.detectable_win_rate(50)  # ties waste pairs
