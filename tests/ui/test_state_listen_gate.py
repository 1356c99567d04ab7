"""Issue 19 in the UI states: the listen gate, listening data and reasons sent with every judgement,
the evaluation planner, the attentive-only verdict, listening in the quality table, and the
``min_heard_fraction`` dataset filter. The API here runs with ``TD_MIN_LISTEN=0.3s``."""

from __future__ import annotations

import pytest

from tests.api.test_evaluations import finish_jobs
from tests.factories import make_clips, make_lora_dir
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state import (
    datasets,
    evaluate,
    evaluations,
    history,
    listen_gate,
    quality,
    rate,
    rater,
    studio,
)
from training_dashboard.state.datasets import DatasetsState, min_heard_fraction
from training_dashboard.state.evaluate import FIRST, SECOND, EvaluateState
from training_dashboard.state.evaluation_texts import plan_texts, win_rate_value
from training_dashboard.state.evaluations import EvaluationState
from training_dashboard.state.history import HistoryState, history_player_id
from training_dashboard.state.listen_gate import ListenRule, gate_hint, listening_body, needed_s, reason_of
from training_dashboard.state.quality import QualityState
from training_dashboard.state.rate import PLAYER, RateState
from training_dashboard.state.rater import RaterState
from training_dashboard.state.studio import Clip, StudioState, player_id


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"min_listen": "0.3s"})


@pytest.fixture
def wired(transport, monkeypatch):  # type: ignore[no-untyped-def]
    for module in (rater, rate, evaluate, evaluations, studio, quality, datasets, listen_gate, history):
        monkeypatch.setattr(module, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    return transport


def _report(player: str, src: str, heard: float, duration: float | None = 0.5, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"id": player, "src": src, "heard_s": heard, "duration_s": duration, "plays": 1, "seeks": 0,
            "shown_ms": 4000, **extra}


def test_the_rule_and_its_hint() -> None:
    both = ListenRule(min_seconds=3, min_fraction=0.5)
    assert needed_s(both, 10) == 3 and needed_s(both, 4) == 2 and needed_s(both, 2) == 1
    assert needed_s(ListenRule(min_seconds=3), 1.5) == 1.5  # never more than the whole clip
    assert needed_s(ListenRule(min_seconds=3), 0) == 3 and needed_s(ListenRule(min_fraction=0.5), 0) is None
    assert needed_s(ListenRule(), 5) == 0
    players = [("a", "clip A"), ("b", "clip B")]
    assert gate_hint(ListenRule(), {}, {}, players) == ""
    assert gate_hint(both, {"a": 3, "b": 1.6}, {"a": 10, "b": 10}, players) == "Listen to 1.4 s more of clip B"
    assert gate_hint(both, {"a": 2.999, "b": 3}, {"a": 10, "b": 10}, players) == ""  # float noise
    assert gate_hint(ListenRule(min_fraction=0.5), {}, {"a": 4}, players) == (
        "Listen to 2.0 s more of clip A and 50% of clip B")  # B's duration is not known yet
    assert gate_hint(both, {"a": 2.96}, {"a": 10}, players[:1]) == "Listen to 0.1 s more of clip A"


def test_the_listening_body_and_reason() -> None:
    collected = {"clips": {"p1": _report("p1", "x", 0.61, 0.5), "p2": _report("p2", "y", 0.2, None, seeks=2)},
                 "reason": "  warmer bass  "}
    body = listening_body(collected, {"p1": ("audio_id", 7), "p2": ("audio_id", 8)}, {"p2": 0.4})
    assert body == {"clips": [{"audio_id": 7, "heard_s": 0.5, "duration_s": 0.5, "plays": 1, "seeks": 0},
                              {"audio_id": 8, "heard_s": 0.2, "duration_s": 0.4, "plays": 1, "seeks": 2}],
                    "decision_ms": 4000}
    assert listening_body(collected, {"p1": ("slot", "first"), "p3": ("slot", "second")}, {}) is None
    assert listening_body(None, {"p1": ("audio_id", 7)}, {}) is None
    assert reason_of(collected) == "warmer bass" and reason_of({"reason": "   "}) is None
    assert reason_of(["not", "a", "dict"]) is None and len(reason_of({"reason": "x" * 900}) or "") == 500


def test_planner_texts_and_fields() -> None:
    assert win_rate_value("0.65") == 0.65 and win_rate_value("65%") == 0.65 and win_rate_value("65") == 0.65
    assert win_rate_value("0.5") is None and win_rate_value("x") is None and win_rate_value("nan") is None
    plan = schemas.EvaluationPlan(pairs=40, tie_rate=0.1, past_evaluations=3, alpha=0.05, power=0.8,
                                  detectable_win_rate=0.7234, expected_win_rate=0.65, pairs_needed=120, max_pairs=1000)
    can, needs, note = plan_texts(plan)
    assert can == "With 40 pairs you can detect a win rate of 0.72 or more (80 % power)."
    assert needs == "you need 120 pairs." and "10 %" in note and "two-sided 5 %" in note
    few = plan.model_copy(update={"pairs": 5, "detectable_win_rate": None, "pairs_needed": 30})
    assert "not even a clean sweep" in plan_texts(few)[0] and plan_texts(few)[1] == "you need 30 pairs."
    assert plan_texts(plan.model_copy(update={"pairs_needed": 25}))[1] == "you need 25 pairs: your 40 are enough."
    assert plan_texts(plan.model_copy(update={"pairs_needed": None}))[1] == "you need more than 1000 pairs."
    assert min_heard_fraction("") is None and min_heard_fraction("50") == 0.5 and min_heard_fraction("75 %") == 0.75
    with pytest.raises(ValueError):
        min_heard_fraction("150")


async def test_rate_waits_for_the_clip_to_be_heard(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="harp"))
    ids = make_clips(db, settings, prompt.id, n=2)  # 0.5 s each: the gate asks for 0.3 s
    ana = await api.create_rater(schemas.RaterCreate(name="Ana"))
    (await root.get_state(RaterState)).rater_id = str(ana.id)
    page = await root.get_state(RateState)
    await run(RateState.load_listen_rule, page)
    assert page.listen_rule == ListenRule(min_seconds=0.3)
    await run(RateState.load_next, page)
    await run(RateState.set_rating, page, "4")
    assert not page.can_submit and page.listen_hint == "Listen to 0.3 s more of the clip"
    await run(RateState.track, page, _report(PLAYER, "http://elsewhere/old.wav", 5.0))  # a stale report
    assert page.listen_hint == "Listen to 0.3 s more of the clip"
    await run(RateState.track, page, _report(PLAYER, page.src, 0.12))
    assert page.listen_hint == "Listen to 0.2 s more of the clip" and not page.can_submit
    await run(RateState.submit, page, {"clips": {PLAYER: _report(PLAYER, page.src, 0.2)}})  # still short: nothing sent
    assert page.last_result == "" and not (await api.list_feedback(audio_id=ids[0])).items
    await run(RateState.submit, page, {"clips": {PLAYER: _report(PLAYER, page.src, 0.42, seeks=1)}})
    assert "4★ saved" in page.last_result
    saved = (await api.list_feedback(audio_id=ids[0])).items[0]
    assert saved.listening is not None and saved.listening.decision_ms == 4000
    heard = saved.listening.clips[0]
    assert (heard.audio_id, heard.heard_s, heard.duration_s, heard.plays, heard.seeks) == (ids[0], 0.42, 0.5, 1, 1)
    await run(RateState.load_next, page)
    assert page.audio_id == ids[1] and page.heard == {} and page.listen_hint  # a new clip starts over


async def test_votes_carry_listening_and_reason(root, wired, api, client, db, settings) -> None:  # type: ignore[no-untyped-def]
    a = await api.register_adapter(schemas.AdapterCreate(
        name="keen", path=str(make_lora_dir(settings.default_adapter_root, "keen"))))
    for i in range(5):
        await client.post("/prompts", json={"text": f"p{i}"})
    ev = await api.create_evaluation(schemas.EvaluationCreate(candidate_id=a.id, num_prompts=5, seed=2))
    finish_jobs(db, settings)  # 0.2 s clips: the gate asks for all of each
    ann = await api.create_rater(schemas.RaterCreate(name="Ann"))
    (await root.get_state(RaterState)).rater_id = str(ann.id)
    state = await root.get_state(EvaluateState)
    state.evaluation_id = ev.id
    await run(EvaluateState.load_listen_rule, state)
    await run(EvaluateState.load_next, state)
    assert not state.can_vote  # durations not known yet: the gate's 0.3 s
    assert state.listen_hint == "Listen to 0.3 s more of the first clip and 0.3 s more of the second clip"
    await run(EvaluateState.track, state, _report(FIRST, state.first_src, 0.2, 0.2))  # all of a 0.2 s clip
    assert state.listen_hint == "Listen to 0.3 s more of the second clip"
    for n in range(5):
        heard = {"clips": {FIRST: _report(FIRST, state.first_src, 0.2, 0.2),
                           SECOND: _report(SECOND, state.second_src, 0.195, 0.2)},
                 "reason": "cleaner attack" if n == 0 else ""}
        await run(EvaluateState.vote, state, "first", heard)
        await run(EvaluateState.load_next, state)
    assert state.status == "completed" and state.verdict
    assert state.attentive.startswith("Attentive votes only (both clips ≥ 50% heard): win rate")
    assert state.listeners[0].startswith("Ann: ") and "% of each clip (median)" in state.listeners[0]
    pairs = await api.evaluation_pairs(ev.id)
    assert [v.reason for p in pairs for v in p.votes if v.reason] == ["cleaner attack"]
    assert len(state.reasons) == 1 and state.reasons[0].startswith("Ann chose ")
    assert state.reasons[0].endswith(": “cleaner attack”")
    rows = await root.get_state(EvaluationState)
    await run(EvaluationState.load_evaluations, rows)
    assert rows.rows[0].attentive.startswith("Attentive votes only") and rows.rows[0].attentive_verdict


async def test_the_studio_gates_ratings_and_sends_the_reason(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="x"))
    ids = make_clips(db, settings, prompt.id, n=2)
    studio_state = await root.get_state(StudioState)
    await run(StudioState.load_listen_rule, studio_state)
    studio_state.clips = [Clip(id=i, label=label, seed=1, adapter_label="base", src=f"http://t/{i}", duration=0.5)
                          for i, label in zip(ids, "AB", strict=True)]
    assert studio_state.clip_hints == ["Listen to 0.3 s more of clip A", "Listen to 0.3 s more of clip B"]
    assert studio_state.pref_hint == "Listen to 0.3 s more of clip A and 0.3 s more of clip B"
    a, b = player_id(ids[0]), player_id(ids[1])
    heard = {"clips": {a: _report(a, f"http://t/{ids[0]}", 0.5), b: _report(b, f"http://t/{ids[1]}", 0.1)},
             "reason": "B drags"}
    await run(StudioState.set_rating, studio_state, 0, "5")
    read = str(await run(StudioState.collect_and_submit_feedback, studio_state, 0))
    assert "_call_script" in read and "__tdListen" in read and "submit_feedback" in read  # the page reads first
    await run(StudioState.submit_feedback, studio_state, 0, heard)
    assert studio_state.clips[0].submitted and studio_state.clip_hints[1] == "Listen to 0.2 s more of clip B"
    events = await run(StudioState.submit_preference, studio_state, "a", heard)
    assert "0.2 s more of clip B" in str(events[0]) and studio_state.pref_result == ""
    heard["clips"][b]["heard_s"] = 0.31
    await run(StudioState.submit_preference, studio_state, "a", heard)
    assert studio_state.pref_result == "A preferred over B"
    # through the API: what the client sent was stored (the dataset export carries the reason)
    rated = (await api.list_feedback(audio_id=ids[0])).items[0]
    assert rated.listening is not None and rated.listening.clips[0].heard_s == 0.5


async def test_history_rates_only_what_was_heard(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="y"))
    ids = make_clips(db, settings, prompt.id, n=1)
    cy = await api.create_rater(schemas.RaterCreate(name="Cy"))
    (await root.get_state(RaterState)).rater_id = str(cy.id)
    state = await root.get_state(HistoryState)
    await run(HistoryState.load_listen_rule, state)
    await run(HistoryState.load_history, state)
    read = str(await run(HistoryState.collect_and_rate_clip, state, ids[0], "3"))
    assert "_call_script" in read and "rate_clip" in read
    events = await run(HistoryState.rate_clip, state, ids[0], "3", {"clips": {}})
    assert f"Listen to 0.3 s more of clip #{ids[0]}" in str(events[0])
    player, src = history_player_id(ids[0]), state.jobs[0].clips[0].src
    await run(HistoryState.rate_clip, state, ids[0], "3", {"clips": {player: _report(player, src, 0.35)}})
    assert state.jobs[0].clips[0].rated == "3"
    saved = (await api.list_feedback(audio_id=ids[0])).items[0]
    assert saved.listening is not None and saved.listening.clips[0].heard_s == 0.35


async def test_planner_quality_and_heard_filter(root, wired, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(EvaluationState)
    await run(EvaluationState.set_num_prompts, state, "40")
    await run(EvaluationState.plan, state)
    assert state.plan_can.startswith("With 40 pairs you can detect a win rate of 0.") and state.plan_needs
    await run(EvaluationState.set_expected_win_rate, state, "0.4")
    assert state.win_rate_problem
    prompt = await api.create_prompt(schemas.PromptCreate(text="x"))
    ids = make_clips(db, settings, prompt.id, n=2)
    bo = await api.create_rater(schemas.RaterCreate(name="Bo"))
    for audio_id, heard in zip(ids, (0.45, 0.3), strict=True):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=5, rater_id=bo.id, listening={
            "clips": [{"audio_id": audio_id, "heard_s": heard, "duration_s": 0.5}], "decision_ms": 9000}))
    q = await root.get_state(QualityState)
    await run(QualityState.load_quality, q)
    row = next(r for r in q.raters if r.name == "Bo")
    assert row.heard == "75%" and row.fast == "0%" and "2 of 2" in row.listened
    ds = await root.get_state(DatasetsState)
    await run(DatasetsState.set_min_heard, ds, "80")
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 1 and ds.validation_error == ""
    await run(DatasetsState.set_min_heard, ds, "")
    await run(DatasetsState.refresh_preview, ds)
    assert ds.preview_count == 2
    await run(DatasetsState.set_min_heard, ds, "120")
    assert "percentage from 0 to 100" in ds.validation_error
