"""The listening queue in Chromium: a rater rates five clips on /rate with the keyboard only,
and the Progress tab shows agreement once a second rater overlaps."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import CONTEXT_ARGS, Server, create_token, create_user, sign_in
from tests.e2e.test_dashboard import GENERATION_TIMEOUT_MS, _open_tab, _screenshot

pytestmark = pytest.mark.e2e
STARS = [4, 2, 5, 1, 3]


def _generate(server: Server, n: int) -> list[int]:
    with server.http() as http:
        prompt = http.post("prompts", json={"text": "queue: rainy synthwave",
                                            "attributes": {"style": "synthwave", "mood": "wistful"}}).json()
        job = http.post("generate", json={"prompt_id": prompt["id"], "num_samples": n, "duration": 0.5}).json()
        deadline = time.monotonic() + GENERATION_TIMEOUT_MS / 1000
        while job["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.5)
            job = http.get(f"generate/{job['id']}").raise_for_status().json()
        assert job["status"] == "completed", job
        return job["audio_ids"]


def _card_id(page: Page) -> str:
    card = page.get_by_test_id("rate-card")
    expect(card).to_be_visible()
    return card.get_attribute("data-audio-id") or ""


def test_rate_five_clips_with_the_keyboard(page: Page, browser: Browser, server: Server) -> None:
    _generate(server, 4)
    _generate(server, 4)  # eight clips: enough to skip one and rate five
    admin_page = page
    kim_password = create_user(server, "kim", "rater", display_name="Keyboard Kim")
    page = browser.new_context(**CONTEXT_ARGS).new_page()  # Kim's own browser: the rater is who signed in
    sign_in(page, server, "kim", kim_password, "/rate")
    expect(page.get_by_test_id("rater-picker")).to_have_count(0)
    expect(page.get_by_test_id("user-name")).to_contain_text("Keyboard Kim")
    expect(page.get_by_test_id("user-role")).to_have_text("rater")
    left = page.get_by_test_id("rate-left")
    _card_id(page)  # the first clip and the summary arrive together
    expect(left).to_contain_text(re.compile(r"\d+ left for you · 0 rated today"))
    start_left = int(left.inner_text().split()[0])
    assert start_left >= 6
    expect(page.get_by_test_id("rate-card")).not_to_contain_text("tiny")  # blind: no model named

    first = _card_id(page)
    page.keyboard.press("s")  # skip
    expect(page.get_by_test_id("rate-card")).not_to_have_attribute("data-audio-id", first)

    audio_paused = "document.getElementById('rate-audio').paused"
    page.wait_for_function("document.getElementById('rate-audio').readyState >= 1")
    assert page.evaluate(audio_paused)
    page.keyboard.press(" ")
    page.wait_for_function(f"!{audio_paused}")
    page.keyboard.press(" ")
    page.wait_for_function(audio_paused)

    rated = []
    for n, stars in enumerate(STARS, start=1):
        current = _card_id(page)
        page.keyboard.press(str(stars))
        expect(page.get_by_test_id(f"rate-star-{stars}")).to_have_attribute("aria-pressed", "true")
        if n == 1:
            _screenshot(page, "rate-chosen")
        page.keyboard.press("Enter")
        # Stored, and only now the model is revealed; the next clip is up.
        expect(page.get_by_test_id("rate-last")).to_contain_text(
            re.compile(rf"Clip #{current}: {stars}★ saved · made by (base|\S+@\d+\.\d+\.\d+)$"))
        expect(page.get_by_test_id("rate-card")).not_to_have_attribute("data-audio-id", current)
        expect(left).to_contain_text(f"{n} rated today")
        rated.append(int(current))
    expect(left).to_contain_text(f"{start_left - 5} left for you")
    _screenshot(page, "rate-after-five")

    raters = server.get("raters").json()
    kim = next(r for r in raters if r["name"] == "Keyboard Kim")
    assert kim["rating_count"] == 5
    mine = server.get("audio", params={"rated_by": kim["id"], "limit": 50}).json()
    assert sorted(item["id"] for item in mine["items"]) == sorted(rated)
    for audio_id, stars in zip(rated, STARS, strict=True):
        got = server.get("feedback", params={"audio_id": audio_id}).json()["items"]
        assert any(f["rating"] == stars and f["rater_id"] == kim["id"] for f in got)

    # A second rater overlaps on the same five clips (with a token of their own: a rating is always
    # its sender's): the Progress tab shows agreement.
    sam_token = create_token(server, "sam", create_user(server, "sam", "rater", display_name="Second Sam"))
    with server.http(sam_token) as sam:
        for audio_id, stars in zip(rated, STARS, strict=True):
            sam.post("feedback", json={"audio_id": audio_id, "rating": stars}).raise_for_status()
    page.context.close()
    page = admin_page
    page.goto(server.url + "/training?tab=progress")
    _open_tab(page, "progress")
    expect(page.get_by_test_id("quality-agreement")).to_contain_text(
        "Krippendorff's α (ordinal) = 1.000 over 5 clips rated by 2 raters")
    expect(page.get_by_test_id("quality-alpha")).to_have_text("1.000")
    raters = page.get_by_test_id("quality-rater")  # the e2e app is shared: other tests' raters may be listed
    expect(raters.filter(has_text="Keyboard Kim")).to_have_count(1)
    expect(raters.filter(has_text="Second Sam")).to_have_count(1)
    expect(page.get_by_test_id("quality-coverage")).to_contain_text("eligible")
    page.get_by_test_id("quality-panel").scroll_into_view_if_needed()
    _screenshot(page, "progress-quality")


def test_studio_history_reproduces_a_prompt(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    history = page.get_by_test_id("history")
    expect(history.get_by_test_id("history-job").first).to_contain_text("queue: rainy synthwave", timeout=30_000)
    expect(history.get_by_test_id("history-clip").first).to_be_visible()
    history.get_by_test_id("history-use").first.click()
    expect(page.get_by_test_id("prompt-text")).to_have_value("queue: rainy synthwave")
    expect(page.get_by_test_id("prompt-style")).to_have_value("synthwave")
    expect(page.get_by_test_id("prompt-seed")).to_have_value(re.compile(r"^\d+$"))
    _screenshot(page, "studio-history")
