"""Evaluation states (Adapters tab, blind page, activation gate) on the real in-process API."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.api.test_evaluations import finish_jobs
from tests.factories import make_lora_dir
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.api.app import create_app
from training_dashboard.client import ApiClient
from training_dashboard.state import adapters as adapters_state
from training_dashboard.state import evaluate as evaluate_state
from training_dashboard.state import evaluations as evaluations_state
from training_dashboard.state.adapters import AdapterState, verdict_text
from training_dashboard.state.evaluate import EvaluateState, evaluation_id_from_path
from training_dashboard.state.evaluations import (
    EvaluationState,
    clip_seconds_problem,
    evaluation_row,
    num_prompts_problem,
)
from training_dashboard.state.rater import RaterState


def _public(**overrides) -> schemas.EvaluationPublic:  # type: ignore[no-untyped-def]
    fields = dict(id=3, candidate_id=1, baseline_id=None, candidate_label="warm@1.0.0", baseline_label="base",
                  status="completed", pairs_total=20, pairs_ready=20, pairs_failed=0, clips_ready=40, votes=45,
                  votes_per_pair=1, seed=1, params={}, verdict="better", win_rate=0.75, ci_low=0.598, ci_high=0.858,
                  p_value=0.00222, candidate_wins=30, baseline_wins=10, ties=5,
                  created_at=datetime(2026, 1, 1, tzinfo=UTC), finished_at=None)
    return schemas.EvaluationPublic(**{**fields, **overrides})


def test_evaluation_row_draws_the_interval_on_a_percent_axis() -> None:
    row = evaluation_row(_public())
    assert row.title == "warm@1.0.0 vs base" and row.verdict == "better" and not row.is_open
    assert row.result == "win rate 75% over 40 decisive vote(s), 5 tie(s) · p = 0.002"
    assert row.interval == "95% CI 60%–86%" and row.has_interval
    assert (row.bar_left, row.point, row.bar_width) == (59.8, 75.0, 26.0)
    assert row.href == "/evaluate/3" and row.progress == "clips 40/40 · votes 45"


def test_an_open_evaluation_shows_progress_and_no_result() -> None:
    row = evaluation_row(_public(status="generating", clips_ready=10, votes=0, verdict=None, win_rate=None,
                                 ci_low=None, ci_high=None, p_value=None, candidate_wins=0, baseline_wins=0, ties=0,
                                 pairs_failed=1))
    assert row.is_open and row.clips_pct == 25 and row.verdict == "" and not row.has_interval and row.result == ""
    assert row.progress == "clips 10/40 · votes 0 · 1 pair(s) failed to generate"


def test_small_texts() -> None:
    assert num_prompts_problem("20") == "" and num_prompts_problem("4") and num_prompts_problem("x")
    assert num_prompts_problem("201")
    assert clip_seconds_problem("1") == "" and clip_seconds_problem("0.2") and clip_seconds_problem("x")
    assert evaluation_id_from_path("/evaluate/12") == 12 and evaluation_id_from_path("/evaluate/12/") == 12
    assert evaluation_id_from_path("/evaluate/abc") == 0 and evaluation_id_from_path("/evaluate/99999999999") == 0
    assert verdict_text(schemas.AdapterVerdict()) == "Not evaluated against the base model yet"
    text = verdict_text(schemas.AdapterVerdict(verdict="worse", evaluation_id=4, win_rate=0.2, ci_low=0.1,
                                               ci_high=0.4, votes=20))
    assert text == "worse than base: win rate 20% (95% CI 10–40%), 20 votes (evaluation #4)"


@pytest.fixture
def wired(transport, monkeypatch):  # type: ignore[no-untyped-def]
    for module in (evaluations_state, evaluate_state):
        monkeypatch.setattr(module, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    return transport


async def test_start_an_evaluation_from_the_dialog(root, wired, api, client, settings) -> None:  # type: ignore[no-untyped-def]
    root_dir = settings.default_adapter_root
    a = await api.register_adapter(schemas.AdapterCreate(name="warm", path=str(make_lora_dir(root_dir, "warm"))))
    b = await api.register_adapter(schemas.AdapterCreate(name="cold", path=str(make_lora_dir(root_dir, "cold"))))
    for i in range(6):
        await client.post("/prompts", json={"text": f"p{i}"})
    adapter_state = await root.get_state(AdapterState)
    await run(AdapterState.load_adapters, adapter_state)
    state = await root.get_state(EvaluationState)
    options = [{"id": r.id, "name": r.name, "version": r.version, "compatible": r.compatible}
               for r in adapter_state.adapters]
    await run(EvaluationState.open_evaluate, state, a.id, "warm 1.0.0", options)
    assert [(o.value, o.label) for o in state.baseline_options] == [("base", "Base model"), (str(b.id), "cold 1.0.0")]
    await run(EvaluationState.set_baseline, state, "999")  # not offered: ignored
    assert state.baseline == "base"
    await run(EvaluationState.set_num_prompts, state, "7")
    events = await run(EvaluationState.start_evaluation, state)
    assert "Only 6 held-out prompt(s)" in str(events[-1]) and state.dialog_for == a.id and not state.starting
    await run(EvaluationState.set_num_prompts, state, "6")
    await run(EvaluationState.set_clip_seconds, state, "1.5")
    await run(EvaluationState.start_evaluation, state)
    assert state.dialog_for == 0 and [r.title for r in state.rows] == ["warm@1.0.0 vs base"]
    assert state.rows[0].status == "generating" and state.rows[0].progress == "clips 0/12 · votes 0"
    await run(EvaluationState.load_evaluations, state)
    assert state.loaded and len(state.rows) == 1
    assert (await api.get_evaluation(state.rows[0].id)).params["duration"] == 1.5


async def test_blind_page_names_no_model_until_complete(root, wired, api, client, db, settings) -> None:  # type: ignore[no-untyped-def]
    root_dir = settings.default_adapter_root
    a = await api.register_adapter(schemas.AdapterCreate(name="secretive", path=str(make_lora_dir(root_dir, "s"))))
    for i in range(5):
        await client.post("/prompts", json={"text": f"p{i}"})
    ev = await api.create_evaluation(schemas.EvaluationCreate(candidate_id=a.id, num_prompts=5, seed=2))
    finish_jobs(db, settings)
    rater = await api.create_rater(schemas.RaterCreate(name="Ann"))
    (await root.get_state(RaterState)).rater_id = str(rater.id)
    state = await root.get_state(EvaluateState)
    state.evaluation_id = ev.id
    await run(EvaluateState.load_next, state)
    assert state.has_pair and state.progress_text == "0 voted · 5 of 5 pairs ready"
    assert "/evaluations/" in state.first_src and "/audio/" not in state.first_src
    for choice in ("first", "second", "tie", "first"):
        await run(EvaluateState.vote, state, choice)
        await run(EvaluateState.load_next, state)
        assert "secretive" not in str(state.dict()) and state.reveal == ""
    await run(EvaluateState.vote, state, "first")
    await run(EvaluateState.load_next, state)
    assert not state.has_pair and state.finished_for_rater and state.status == "completed"
    assert state.reveal.startswith("secretive@1.0.0 vs base: ") and state.verdict in ("better", "inconclusive",
                                                                                        "worse")


@pytest.fixture
async def gated_api(settings, monkeypatch):  # type: ignore[no-untyped-def]
    from training_dashboard.config import Settings

    app = create_app(Settings(**{**settings.model_dump(), "require_evaluation": True}), with_worker=False)
    transport = httpx.ASGITransport(app=app)
    monkeypatch.setattr(adapters_state, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    async with ApiClient("http://test/api", transport=transport) as api:
        yield api
    app.state.db.dispose()


async def test_the_gate_asks_for_a_reason_and_forces(root, gated_api, settings) -> None:  # type: ignore[no-untyped-def]
    path = make_lora_dir(settings.default_adapter_root, "fresh")
    fresh = await gated_api.register_adapter(schemas.AdapterCreate(name="fresh", path=str(path)))
    state = await root.get_state(AdapterState)
    await run(AdapterState.load_adapters, state)
    assert state.adapters[0].verdict == "none"
    events = await run(AdapterState.toggle_adapter, state, fresh.id, True)
    assert events == [] and state.gate_for == fresh.id and "no completed evaluation" in state.gate_message
    assert not state.adapters[0].is_active  # reverted
    assert not state.gate_reason_ok
    await run(AdapterState.force_activate, state)  # no reason: nothing happens
    assert not (await gated_api.get_adapter(fresh.id)).is_active
    await run(AdapterState.set_gate_reason, state, "  listening test for the label  ")
    events = await run(AdapterState.force_activate, state)
    assert "activated (forced)" in str(events[-1]) and state.gate_for == 0
    assert state.adapters[0].is_active and state.adapters[0].forced_reason == "listening test for the label"
    detail = await gated_api.get_adapter(fresh.id)
    assert detail.is_active and detail.forced_activation_reason == "listening test for the label"
