"""The listen gate in Chromium with real audio (issue 19): the app runs with ``TD_MIN_LISTEN=1s``.

On /rate and /evaluate the buttons (and their keys) stay shut until each clip has played for a
second, with a hint saying how much is left; what the browser measured is stored with the
judgement (compared with the audio element's own ``played`` ranges, within 0.3 s); a reason typed
on /evaluate (digits in it vote nothing, Enter only leaves the box) reaches the evaluation's
per-pair detail and the exported preference dataset. The Evaluate dialog's planner and the
quality table's listening columns are checked on the way. Screenshots go to ``TD_SCREENSHOTS``
(default ``artifacts/screenshots``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import CONTEXT_ARGS, Server, make_tiny_adapter, start_app

pytestmark = [pytest.mark.e2e, pytest.mark.own_app]

GATE_S = 1.0
CLIP_S = 2.0
TIMEOUT_S = 600  # generation on a shared, slow test machine
SHOTS = Path(os.environ.get("TD_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "artifacts" / "screenshots")
REASON = "cello 2 sounds warmer"


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An app with the listen gate, in the trusted one-machine mode (``TD_AUTH=off``), where
    listeners pick their name under "Who is listening?": the gate and what is heard are the same
    with sign-in on (the state tests in tests/ui/test_state_listen_gate.py and the API tests cover
    that path); sign-in itself is tested in test_auth_browser.py."""
    env = {"TD_MIN_LISTEN": f"{GATE_S:g}s", "TD_AUTH": "off"}
    with start_app(tmp_path_factory.mktemp("listen") / "data", env) as app:
        yield app


@pytest.fixture(scope="module")
def browser_context_args() -> dict[str, Any]:
    """Not the suite's signed-in state (and not its app): this app has no sign-in."""
    return dict(CONTEXT_ARGS)


def _shot(target, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=SHOTS / name)


def _played(page: Page, player: str) -> float:
    """Distinct seconds played, read from the element itself (not through the app's tracker)."""
    return page.evaluate("""(id) => { const p = document.getElementById(id).played; let s = 0;
        for (let i = 0; i < p.length; i++) s += p.end(i) - p.start(i); return s; }""", player)


def _play_until(page: Page, player: str, seconds: float) -> None:
    page.evaluate("(id) => document.getElementById(id).play()", player)
    page.wait_for_function("""([id, s]) => { const a = document.getElementById(id); let t = 0;
        for (let i = 0; i < a.played.length; i++) t += a.played.end(i) - a.played.start(i);
        return t >= s || a.ended; }""", arg=[player, seconds], timeout=30_000)
    page.evaluate("(id) => document.getElementById(id).pause()", player)


def _choose_listener(page: Page, name: str) -> None:
    expect(page.get_by_test_id("rater-picker")).to_contain_text("Who is listening?")
    for _ in range(3):  # a state update landing while typing can reset the controlled input: type again
        page.get_by_test_id("rater-name").fill(name)
        if page.get_by_test_id("rater-add").is_enabled():
            break
        page.wait_for_timeout(1000)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("rater-switch")).to_contain_text(name)


def _wait_job(http: httpx.Client, job: dict) -> dict:
    deadline = time.monotonic() + TIMEOUT_S
    while job["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = http.get(f"generate/{job['id']}").raise_for_status().json()
    assert job["status"] == "completed", job
    return job


def test_rate_unlocks_after_a_second_heard(page: Page, gated: Server) -> None:
    with httpx.Client(base_url=gated.api + "/", timeout=30) as http:
        assert http.get("listening/policy").json()["min_seconds"] == GATE_S
        prompt = http.post("prompts", json={"text": "gate: slow harp"}).raise_for_status().json()
        _wait_job(http, http.post("generate", json={"prompt_id": prompt["id"], "num_samples": 2,
                                                    "duration": CLIP_S}).raise_for_status().json())
        page.goto(gated.url + "/rate")
        _choose_listener(page, "Gate Gina")
        card = page.get_by_test_id("rate-card")
        expect(card).to_be_visible()
        audio_id = int(card.get_attribute("data-audio-id") or 0)
        page.wait_for_function("document.getElementById('rate-audio').readyState >= 1")
        page.locator("h1, h2, h3").first.click()  # focus the page, not a button
        page.keyboard.press("4")
        submit, hint = page.get_by_test_id("rate-submit"), page.get_by_test_id("rate-listen-hint")
        expect(page.get_by_test_id("rate-star-4")).to_have_attribute("aria-pressed", "true")
        expect(submit).to_be_disabled()
        expect(hint).to_have_text("Listen to 1.0 s more of the clip")
        page.keyboard.press("Enter")  # the key obeys the gate: nothing is sent
        page.wait_for_timeout(500)
        assert http.get("feedback", params={"audio_id": audio_id}).json()["items"] == []

        _play_until(page, "rate-audio", 0.4)  # part of the way: the pause reports it at once
        expect(hint).to_have_text(re.compile(r"^Listen to 0\.[1-7] s more of the clip$"))
        expect(submit).to_be_disabled()
        _shot(page.get_by_test_id("rate-card"), "listen-rate-gate.png")

        page.keyboard.press("Space")  # resumes the clip (a user gesture, as a listener would)
        expect(submit).to_be_enabled(timeout=10_000)
        expect(hint).to_have_count(0)
        page.keyboard.press("Space")
        page.wait_for_function("document.getElementById('rate-audio').paused")
        played = _played(page, "rate-audio")
        assert played >= GATE_S - 0.05
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("rate-last")).to_contain_text(f"Clip #{audio_id}: 4★ saved")
        saved = http.get("feedback", params={"audio_id": audio_id}).json()["items"][0]
        clip = saved["listening"]["clips"][0]
        assert clip["audio_id"] == audio_id and abs(clip["heard_s"] - played) <= 0.3, (clip, played)
        assert abs(clip["duration_s"] - CLIP_S) <= 0.1 and clip["plays"] >= 2
        assert saved["listening"]["decision_ms"] >= 1000 * GATE_S
        # the next clip starts over
        expect(card).not_to_have_attribute("data-audio-id", str(audio_id))
        expect(page.get_by_test_id("rate-submit")).to_be_disabled()


def test_evaluate_gate_reason_and_planner(page: Page, gated: Server) -> None:
    path = make_tiny_adapter(gated.data_dir, "gated", seed=3)
    with httpx.Client(base_url=gated.api + "/", timeout=30) as http:
        http.post("adapters", json={"name": "gated", "path": str(path)}).raise_for_status()
        for i in range(5):
            http.post("prompts", json={"text": f"gated prompt {i}: oboe and wind"}).raise_for_status()

        # The Evaluate dialog's planner.
        page.goto(gated.url + "/training?tab=adapters")
        page.get_by_test_id("adapter-card").filter(has_text="gated").get_by_test_id("adapter-evaluate").click()
        dialog = page.get_by_test_id("evaluate-dialog")
        dialog.get_by_test_id("evaluate-prompts").fill("40")
        plan = dialog.get_by_test_id("evaluate-plan-can")
        expect(plan).to_contain_text("With 40 pairs you can detect a win rate of 0.")
        expect(plan).to_contain_text("(80 % power)")
        expected = http.get("evaluations/plan", params={"pairs": 40, "expected_win_rate": 0.65}).json()
        expect(dialog.get_by_test_id("evaluate-plan-needs")).to_have_text(
            f"you need {expected['pairs_needed']} pairs.")
        assert f"{expected['detectable_win_rate']:.2f}" in plan.inner_text()
        _shot(dialog, "listen-evaluate-planner.png")
        dialog.get_by_test_id("evaluate-prompts").fill("5")
        dialog.get_by_test_id("evaluate-seconds").fill(f"{CLIP_S:g}")
        dialog.get_by_test_id("evaluate-start").click()
        card = page.get_by_test_id("evaluation-card").filter(has_text="gated@1.0.0 vs base")
        expect(card).to_be_visible()
        evaluation_id = int(card.get_attribute("data-evaluation-id") or 0)
        deadline = time.monotonic() + TIMEOUT_S
        ev = http.get(f"evaluations/{evaluation_id}").json()
        while ev["status"] == "generating" and time.monotonic() < deadline:
            time.sleep(1)
            ev = http.get(f"evaluations/{evaluation_id}").json()
        assert ev["status"] == "voting", ev

        page.goto(f"{gated.url}/evaluate/{evaluation_id}")
        _choose_listener(page, "Gated Gus")
        pair = page.get_by_test_id("eval-card")
        expect(pair).to_be_visible()
        first, hint = page.get_by_test_id("eval-vote-first"), page.get_by_test_id("eval-listen-hint")
        expect(first).to_be_disabled()
        expect(hint).to_contain_text("Listen to 1.0 s more of the first clip and 1.0 s more of the second clip")
        reason = page.get_by_test_id("eval-reason")
        reason.click()
        page.keyboard.type(REASON)  # its "2" types, it does not vote
        page.keyboard.press("Enter")  # leaves the box, sends nothing
        expect(reason).not_to_be_focused()
        expect(reason).to_have_value(REASON)
        assert http.get(f"evaluations/{evaluation_id}").json()["votes"] == 0
        page.keyboard.press("1")  # still shut
        page.wait_for_timeout(500)
        assert http.get(f"evaluations/{evaluation_id}").json()["votes"] == 0

        _play_until(page, "eval-first-audio", GATE_S + 0.1)
        expect(hint).to_contain_text("Listen to 1.0 s more of the second clip")
        expect(first).to_be_disabled()
        _shot(page.get_by_test_id("eval-card"), "listen-evaluate-reason.png")
        page.set_viewport_size({"width": 390, "height": 900})
        _shot(page, "listen-evaluate-390.png")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, "the reason box or the hint makes /evaluate scroll sideways at 390 px"
        page.set_viewport_size({"width": 1280, "height": 900})
        _play_until(page, "eval-second-audio", GATE_S + 0.1)
        expect(first).to_be_enabled(timeout=10_000)
        heard = (_played(page, "eval-first-audio"), _played(page, "eval-second-audio"))
        current = pair.get_attribute("data-pair-id") or ""
        page.keyboard.press("2")
        expect(pair).not_to_have_attribute("data-pair-id", current)
        expect(page.get_by_test_id("eval-reason")).to_have_value("")  # a new pair: an empty box
        for n in range(1, 5):  # the other four pairs, heard and voted with the keys
            expect(page.get_by_test_id("eval-progress")).to_contain_text(f"{n} voted")
            current = pair.get_attribute("data-pair-id") or ""
            _play_until(page, "eval-first-audio", GATE_S + 0.1)
            _play_until(page, "eval-second-audio", GATE_S + 0.1)
            expect(first).to_be_enabled(timeout=10_000)
            page.keyboard.press("1" if n % 2 else "0")
            if n < 4:
                expect(pair).not_to_have_attribute("data-pair-id", current)
        expect(page.get_by_test_id("eval-complete")).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("eval-attentive")).to_contain_text("Attentive votes only")
        expect(page.get_by_test_id("eval-listener").first).to_contain_text("Gated Gus")
        expect(page.get_by_test_id("eval-reason-given")).to_contain_text("Gated Gus chose ")
        expect(page.get_by_test_id("eval-reason-given")).to_contain_text(REASON)
        _shot(page.get_by_test_id("eval-complete"), "listen-evaluate-complete.png")

        page.goto(gated.url + "/training?tab=adapters")  # the card: the attentive-only verdict beside the full one
        card = page.get_by_test_id("evaluation-card").filter(has_text="gated@1.0.0 vs base")
        expect(card.get_by_test_id("evaluation-attentive")).to_contain_text("Attentive votes only")
        expect(card.get_by_test_id("evaluation-attentive")).to_contain_text("0 vote(s) left out")
        _shot(card, "listen-evaluation-card.png")

        pairs = http.get(f"evaluations/{evaluation_id}/pairs").raise_for_status().json()
        votes = [v for p in pairs for v in p["votes"]]
        with_reason = [v for v in votes if v["reason"]]
        assert [v["reason"] for v in with_reason] == [REASON]
        fraction = min(heard) / CLIP_S
        assert abs(with_reason[0]["heard_fraction"] - fraction) <= 0.3 / CLIP_S, (with_reason[0], heard)

        # The decisive votes are preference pairs: the reason is in the exported preference dataset.
        ds = http.post("datasets", json={"name": "gated-prefs", "type": "preference"}).raise_for_status().json()
        export = http.post(f"datasets/{ds['id']}/export", json={"format": "jsonl"}).raise_for_status().json()
        rows = [json.loads(line) for line in Path(export["export_path"], "manifest.jsonl").read_text().splitlines()]
        assert "reason" in rows[0] and REASON in [r["reason"] for r in rows]


def test_studio_gate_and_ab_reason(page: Page, gated: Server) -> None:
    page.goto(gated.url + "/")
    page.get_by_test_id("prompt-text").fill("gate: studio bells")
    page.get_by_test_id("prompt-duration").fill(f"{CLIP_S:g}")
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("job-status")).to_have_text("completed", timeout=TIMEOUT_S * 1000)
    clips = page.get_by_test_id("clip-card")
    expect(clips).to_have_count(2)
    players = [clips.nth(i).get_by_test_id("clip-audio").get_attribute("id") or "" for i in range(2)]
    first = clips.nth(0)
    first.get_by_role("radio", name="4", exact=True).click()
    expect(first.get_by_test_id("submit-rating")).to_be_disabled()
    expect(first.get_by_test_id("rating-listen-hint")).to_have_text("Listen to 1.0 s more of clip A")
    expect(page.get_by_test_id("prefer-a")).to_be_disabled()
    expect(page.get_by_test_id("pref-listen-hint")).to_have_text(
        "Listen to 1.0 s more of clip A and 1.0 s more of clip B")
    page.get_by_test_id("pref-listen-hint").scroll_into_view_if_needed()
    _shot(page, "listen-studio.png")
    _play_until(page, players[0], GATE_S + 0.1)
    expect(first.get_by_test_id("submit-rating")).to_be_enabled(timeout=10_000)
    first.get_by_test_id("submit-rating").click()
    expect(first.get_by_test_id("rating-saved")).to_be_visible()
    expect(page.get_by_test_id("pref-listen-hint")).to_have_text("Listen to 1.0 s more of clip B")
    _play_until(page, players[1], GATE_S + 0.1)
    page.get_by_test_id("pref-reason").fill("B rings cleaner")
    expect(page.get_by_test_id("prefer-b")).to_be_enabled(timeout=10_000)
    page.get_by_test_id("prefer-b").click()
    expect(page.get_by_test_id("pref-result")).to_have_text("B preferred over A")
    expect(page.get_by_test_id("pref-reason")).to_have_value("")
    with httpx.Client(base_url=gated.api + "/", timeout=30) as http:
        audio_id = int(players[0].rsplit("-", 1)[1])
        rated = http.get("feedback", params={"audio_id": audio_id}).json()["items"][0]
        assert abs(rated["listening"]["clips"][0]["heard_s"] - _played(page, players[0])) <= 0.3
        ds = http.post("datasets", json={"name": "studio-prefs", "type": "preference"}).raise_for_status().json()
        export = http.post(f"datasets/{ds['id']}/export", json={"format": "jsonl"}).raise_for_status().json()
        rows = [json.loads(line) for line in Path(export["export_path"], "manifest.jsonl").read_text().splitlines()]
        assert "B rings cleaner" in [r["reason"] for r in rows]


def test_quality_table_shows_listening(page: Page, gated: Server) -> None:
    with httpx.Client(base_url=gated.api + "/", timeout=30) as http:  # a hasty rater: 1 s of 4 s clips, fast
        prompt = http.post("prompts", json={"text": "gate: long drone"}).raise_for_status().json()
        job = _wait_job(http, http.post("generate", json={"prompt_id": prompt["id"], "num_samples": 2,
                                                          "duration": 4.0}).raise_for_status().json())
        hal = http.post("raters", json={"name": "Hasty Hal"}).raise_for_status().json()
        for audio_id in job["audio_ids"]:
            http.post("feedback", json={"audio_id": audio_id, "rating": 5, "rater_id": hal["id"], "listening": {
                "clips": [{"audio_id": audio_id, "heard_s": 1.0, "duration_s": 4.0, "plays": 1}],
                "decision_ms": 1200}}).raise_for_status()
    page.goto(gated.url + "/training?tab=progress")
    panel = page.get_by_test_id("quality-panel")
    row = page.get_by_test_id("quality-rater").filter(has_text="Gate Gina")
    expect(row).to_have_count(1, timeout=15_000)
    expect(row.get_by_test_id("quality-heard")).to_have_text(re.compile(r"^\d+%$"))
    assert 49 <= int(row.get_by_test_id("quality-heard").inner_text().rstrip("%")) <= 100  # the gate: 1 s of 2 s
    hasty = page.get_by_test_id("quality-rater").filter(has_text="Hasty Hal")
    expect(hasty.get_by_test_id("quality-unattentive")).to_have_text("mostly without listening")
    expect(hasty.get_by_test_id("quality-heard")).to_have_text("25%")
    expect(hasty.get_by_test_id("quality-fast")).to_have_text("100%")
    expect(page.get_by_test_id("quality-listening")).to_contain_text("1 rater judges mostly without listening")
    panel.scroll_into_view_if_needed()
    _shot(panel, "listen-quality.png")
