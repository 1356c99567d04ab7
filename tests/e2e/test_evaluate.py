"""A blind evaluation end to end in Chromium with the tiny model: a real PEFT adapter is evaluated
against the base model on 6 held-out prompts (12 clips from the real worker), a listener votes
on /evaluate/<id> with the keyboard without any model named, the verdict appears on the page, on
the Adapters tab (win rate, interval bar, p-value) and as a badge in the studio's adapter selector.

The activation gate (TD_REQUIRE_EVALUATION) is covered against the API in
tests/api/test_evaluations.py: this app runs with the gate off, its default.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import CONTEXT_ARGS, Server, create_user, make_tiny_adapter, sign_in

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT_S = 600  # 12 one-second clips; the shared test machine can be very slow
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
KEYS = ["1", "2", "1", "0", "1", "1"]


def _shot(target, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # for a human to look at (artifacts/ is gitignored)
    target.screenshot(path=SCREENSHOTS / name)


def _wait_ready(http: httpx.Client, evaluation_id: int) -> dict:
    deadline = time.monotonic() + GENERATION_TIMEOUT_S
    ev = http.get(f"evaluations/{evaluation_id}").raise_for_status().json()
    while ev["status"] == "generating" and time.monotonic() < deadline:
        time.sleep(1)
        ev = http.get(f"evaluations/{evaluation_id}").raise_for_status().json()
    assert ev["status"] == "voting" and ev["pairs_ready"] == 6, {k: ev[k] for k in ("status", "clips_ready",
                                                                                   "pairs_failed", "params")}
    return ev


def test_blind_evaluation_with_the_keyboard(page: Page, browser: Browser, server: Server) -> None:
    path = make_tiny_adapter(server.data_dir, "evalme", seed=9)
    with server.http() as http:
        adapter = http.post("adapters", json={"name": "evalme", "path": str(path)}).raise_for_status().json()
        for i in range(6):
            http.post("prompts", json={"text": f"evaluation prompt {i}: cello and rain"}).raise_for_status()

        # Adapters tab: Evaluate -> against the base model on 6 prompts.
        page.goto(server.url + "/training?tab=adapters")
        card = page.get_by_test_id("adapter-card").filter(has_text="evalme")
        expect(card.get_by_test_id("adapter-verdict")).to_have_attribute("data-verdict", "none")
        card.get_by_test_id("adapter-evaluate").click()
        dialog = page.get_by_test_id("evaluate-dialog")
        expect(dialog).to_contain_text("Evaluate evalme 1.0.0")
        expect(dialog.get_by_test_id("evaluate-baseline")).to_contain_text("Base model")
        dialog.get_by_test_id("evaluate-prompts").fill("4")
        expect(dialog.get_by_test_id("evaluate-start")).to_be_disabled()  # 5-200 prompts
        dialog.get_by_test_id("evaluate-prompts").fill("6")
        dialog.get_by_test_id("evaluate-seconds").fill("1")
        dialog.get_by_test_id("evaluate-start").click()
        evaluation = page.get_by_test_id("evaluation-card").filter(has_text="evalme@1.0.0 vs base")
        expect(evaluation).to_be_visible()
        expect(evaluation.get_by_test_id("evaluation-progress")).to_contain_text("/12")
        evaluation_id = int(evaluation.get_attribute("data-evaluation-id") or 0)
        listed = http.get("evaluations", params={"adapter_id": adapter["id"]}).json()["items"]
        assert [e["id"] for e in listed] == [evaluation_id] and listed[0]["pairs_total"] == 6
        assert listed[0]["params"]["duration"] == 1.0
        _wait_ready(http, evaluation_id)
        expect(evaluation.get_by_test_id("evaluation-status")).to_have_text("voting", timeout=15_000)
        expect(evaluation.get_by_test_id("evaluation-progress")).to_contain_text("clips 12/12 · votes 0")
        _shot(page.get_by_test_id("evaluations"), "evaluate-card-voting.png")

        # The blind page, as a listener: a rater signed in in a browser of their own.
        expect(evaluation.get_by_test_id("evaluation-listen")).to_have_attribute("href", f"/evaluate/{evaluation_id}")
        password = create_user(server, "bea", "rater", display_name="Blind Bea")
        listener = browser.new_context(**CONTEXT_ARGS)
        listen = listener.new_page()
        sign_in(listen, server, "bea", password, f"/evaluate/{evaluation_id}")
        expect(listen.get_by_test_id("rater-picker")).to_have_count(0)  # the signed-in person is the listener
        pair = listen.get_by_test_id("eval-card")
        expect(pair).to_be_visible()
        expect(listen.get_by_test_id("eval-progress")).to_contain_text("0 voted · 6 of 6 pairs ready")
        body = listen.locator("body")
        expect(body).not_to_contain_text("evalme")  # nothing names a model while the evaluation is open
        html = listen.content()
        assert "/api/audio/" not in html and "evalme" not in html

        # Space plays and pauses (the first clip by default).
        listen.wait_for_function("document.getElementById('eval-first-audio').readyState >= 1")
        listen.locator("h1, h2, h3").first.click()  # focus the page, not a button
        listen.keyboard.press("Space")
        listen.wait_for_function("!document.getElementById('eval-first-audio').paused")
        listen.keyboard.press("Space")
        listen.wait_for_function("document.getElementById('eval-first-audio').paused")
        _shot(listen, "evaluate-blind-page.png")

        prefs_before = http.get("feedback/stats").json()["preference_pairs"]  # the e2e app is shared by tests
        for n, key in enumerate(KEYS):
            expect(listen.get_by_test_id("eval-progress")).to_contain_text(f"{n} voted")
            current = pair.get_attribute("data-pair-id")
            listen.keyboard.press(key)
            if n < len(KEYS) - 1:
                expect(pair).not_to_have_attribute("data-pair-id", current or "")
        # The rater is thanked; the result (which names the models) is for trainers and admins.
        expect(listen.get_by_test_id("eval-complete-thanks")).to_be_visible()
        expect(listen.locator("body")).not_to_contain_text("evalme")
        result = http.get(f"evaluations/{evaluation_id}").json()
        assert result["status"] == "completed" and result["votes"] == 6
        assert result["result"]["ties"] == 1 and [t["name"] for t in result["result"]["per_rater"]] == ["Blind Bea"]
        verdict = result["verdict"]
        page.goto(f"{server.url}/evaluate/{evaluation_id}")  # the admin's page shows the verdict
        complete = page.get_by_test_id("eval-complete")
        expect(complete.get_by_test_id("eval-verdict")).to_have_attribute("data-verdict", verdict)
        expect(page.get_by_test_id("eval-reveal")).to_contain_text("evalme@1.0.0 vs base")
        _shot(page, "evaluate-complete.png")
        # the five decisive votes are preference pairs from this evaluation, by this listener
        prefs = http.get("feedback/stats").json()["preference_pairs"]
        assert prefs == prefs_before + 5

        listener.close()

        # Adapters tab: the verdict, win rate with its interval bar, p-value; Activate shows the verdict.
        page.goto(server.url + "/training?tab=adapters")
        evaluation = page.get_by_test_id("evaluation-card").filter(has_text="evalme@1.0.0 vs base")
        expect(evaluation.get_by_test_id("evaluation-status")).to_have_text("completed")
        expect(evaluation.get_by_test_id("evaluation-verdict")).to_have_attribute("data-verdict", verdict)
        expect(evaluation.get_by_test_id("evaluation-result")).to_contain_text("95% CI")
        expect(evaluation.get_by_test_id("evaluation-result")).to_contain_text("p ")
        card = page.get_by_test_id("adapter-card").filter(has_text="evalme")
        expect(card.get_by_test_id("adapter-verdict")).to_have_attribute("data-verdict", verdict)
        expect(card.get_by_test_id("adapter-verdict-text")).to_contain_text(f"evaluation #{evaluation_id}")
        _shot(page.get_by_test_id("evaluations"), "evaluate-card-completed.png")
        card.get_by_test_id("adapter-toggle").click()  # the gate is off: activation is immediate
        expect(card.get_by_test_id("adapter-status")).to_have_text("active")
        _shot(card, "evaluate-adapter-card.png")
        page.set_viewport_size({"width": 390, "height": 900})
        expect(evaluation).to_be_visible()
        _shot(page, "evaluate-adapters-390.png")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, "the adapter and evaluation cards make the Adapters tab scroll sideways at 390 px"
        page.set_viewport_size({"width": 1280, "height": 900})

        # The studio's adapter selector carries the badge.
        page.goto(server.url + "/")
        choice = page.get_by_test_id("adapter-choice").filter(has_text="evalme")
        expect(choice.get_by_test_id("selector-verdict")).to_have_attribute("data-verdict", verdict)
        _shot(page.get_by_test_id("adapter-selector"), "evaluate-selector-badge.png")
