"""The prompt library in the studio, in Chromium: search as you type and load a prompt with the
keyboard (the editor filled, nothing generated), a star found again under Favourites after a reload,
a template with a placeholder applied through its dialog; at 1280 and 390 px.

It adds prompts, a job and templates to the shared app, so it runs after the modules that count
from an empty app (``shared_app_last``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.shared_app_last]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
GENERATION_TIMEOUT_S = 240
SEED = 777
TARGET = "Xylophone lullaby at dusk"


@pytest.fixture(scope="module")
def seeded(server: Server) -> dict[str, int]:
    """Three prompts through the API; the target generated once (1 clip, seed 777) by the real worker."""
    ids: dict[str, int] = {}
    with server.http() as http:
        for text, attributes in ((TARGET, {"style": "lullaby", "tempo": 72, "instruments": ["xylophone", "strings"],
                                           "mood": "sleepy"}),
                                 ("Xylophone and rain on a tin roof", {"style": "ambient"}),
                                 ("Kalimba sunrise", {"style": "afrobeat", "mood": "bright"})):
            created = http.post("prompts", json={"text": text, "attributes": attributes}).raise_for_status()
            ids[text] = created.json()["id"]
        job = http.post("generate", json={"prompt_id": ids[TARGET], "num_samples": 1, "duration": 0.5,
                                          "seed": SEED}).raise_for_status().json()
        deadline = time.monotonic() + GENERATION_TIMEOUT_S
        while job["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.5)
            job = http.get(f"generate/{job['id']}").raise_for_status().json()
        assert job["status"] == "completed", job
    return ids


def _jobs(server: Server) -> int:
    return server.get("generate", params={"limit": 1}).raise_for_status().json()["total"]


def _screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """At 1280 px and at 390 px (where nothing may overflow sideways), then back."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        expect(page.get_by_test_id("library-panel")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the studio is {overflow} px wider than a {width} px screen"
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=full_page)
    page.set_viewport_size(size)


def _hit(page: Page, text: str) -> Locator:
    return page.get_by_test_id("library-hit").filter(has_text=text)


def test_type_three_letters_and_load_a_prompt_with_the_keyboard(page: Page, server: Server,
                                                               seeded: dict[str, int]) -> None:
    jobs = _jobs(server)
    page.goto(server.url + "/")
    box = page.get_by_test_id("library-search")
    expect(page.get_by_test_id("library-hit").first).to_be_visible()  # newest prompts before any typing
    box.click()
    box.press_sequentially("xyl", delay=60)
    hits = page.get_by_test_id("library-hit")
    expect(hits).to_have_count(2)  # both xylophone prompts, nothing else
    expect(_hit(page, TARGET)).to_contain_text("generated 1×")
    expect(_hit(page, TARGET)).to_contain_text(f"seed {SEED}")
    texts = page.get_by_test_id("library-hit-text").all_inner_texts()
    for _ in range(texts.index(TARGET) + 1):
        box.press("ArrowDown")
    expect(_hit(page, TARGET)).to_have_attribute("aria-selected", "true")
    expect(box).to_be_focused()  # the highlight moves, the focus stays in the box
    box.press("Enter")

    expect(page.get_by_test_id("prompt-text")).to_have_value(TARGET)
    expect(page.get_by_test_id("prompt-seed")).to_have_value(str(SEED))
    expect(page.get_by_test_id("prompt-style")).to_have_value("lullaby")
    expect(page.get_by_test_id("prompt-tempo")).to_have_value("72")
    expect(page.get_by_test_id("prompt-instruments")).to_have_value("xylophone, strings")
    expect(page.get_by_test_id("prompt-mood")).to_have_value("sleepy")
    expect(page.get_by_test_id("prompt-duration")).to_have_value("0.5")
    expect(page.get_by_test_id("editor-prompt")).to_contain_text(f"Prompt #{seeded[TARGET]}")  # Generate reuses it
    expect(box).to_be_focused()
    # Loading generates nothing: no job started in the page, none in the API.
    expect(page.get_by_test_id("job-status")).to_have_count(0)
    assert _jobs(server) == jobs

    box.fill("zzqx")
    expect(page.get_by_test_id("library-empty")).to_have_text("Nothing matches 'zzqx' — try fewer words")
    box.fill("xyl")
    expect(hits).to_have_count(2)
    _screenshot(page, "studio-library")


def test_a_star_is_found_under_favourites_after_a_reload(page: Page, server: Server, seeded: dict[str, int]) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("library-search").fill("kalimba")
    hit = _hit(page, "Kalimba sunrise")
    expect(page.get_by_test_id("library-hit")).to_have_count(1)
    star = hit.get_by_test_id("library-star")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("prompt-text")).to_have_value("")  # the star did not load the prompt

    page.reload()
    page.get_by_test_id("library-search").fill("")
    page.get_by_test_id("library-favourites").click()
    expect(page.get_by_test_id("library-favourites")).to_have_attribute("aria-pressed", "true")
    favourites = page.get_by_test_id("library-hit")
    expect(favourites.filter(has_text="Kalimba sunrise")).to_have_count(1)
    expect(favourites.filter(has_text="Kalimba sunrise").get_by_test_id("library-star")).to_have_attribute(
        "aria-pressed", "true")
    expect(favourites.filter(has_text=TARGET)).to_have_count(0)

    # The History's star is the same favourite: starring the generated job's prompt lists it too.
    entry = page.get_by_test_id("history-job").filter(has_text=TARGET).first
    entry.get_by_test_id("history-star").click()
    expect(entry.get_by_test_id("history-star")).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("library-favourites").click()  # off and on: a fresh search
    page.get_by_test_id("library-favourites").click()
    expect(favourites.filter(has_text=TARGET)).to_have_count(1)
    _screenshot(page, "studio-library-favourites")


def test_save_and_apply_a_template_with_a_placeholder(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("prompt-text").fill("Lullaby in {key} for a sleepy xylophone")
    page.get_by_test_id("prompt-style").fill("lullaby")
    page.get_by_test_id("library-tab-templates").click()
    save_open = page.get_by_test_id("template-save-open")
    expect(save_open).to_be_enabled()
    save_open.click()
    dialog = page.get_by_test_id("template-edit-dialog")
    expect(dialog.get_by_test_id("template-text-input")).to_have_value("Lullaby in {key} for a sleepy xylophone")
    expect(dialog).to_contain_text("Asks for {key}")
    dialog.get_by_test_id("template-name-input").fill("E2E lullaby")
    dialog.get_by_test_id("template-save").click()
    expect(dialog).to_have_count(0)
    item = page.get_by_test_id("template-item").filter(has_text="E2E lullaby")
    expect(item).to_contain_text("asks for key")

    save_open.click()  # the same name again: refused, said in the dialog
    dialog.get_by_test_id("template-name-input").fill("E2E lullaby")
    dialog.get_by_test_id("template-save").click()
    expect(dialog.get_by_test_id("template-save-error")).to_have_text(
        "A template with this name exists — pick another name")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    page.get_by_test_id("prompt-text").fill("")
    page.get_by_test_id("prompt-style").fill("")
    item.get_by_test_id("template-apply").click()
    fill = page.get_by_test_id("template-fill-dialog")
    value = fill.get_by_test_id("template-value")
    expect(value).to_have_count(1)
    expect(value).to_have_value("")
    expect(fill.get_by_test_id("template-fill-apply")).to_be_disabled()  # until every value is given
    value.fill("D major")
    expect(fill.get_by_test_id("template-preview")).to_have_text("Lullaby in D major for a sleepy xylophone")
    expect(fill.get_by_test_id("template-fill-apply")).to_be_enabled()
    _screenshot(page, "studio-template-dialog", full_page=False)
    fill.get_by_test_id("template-fill-apply").click()
    expect(fill).to_have_count(0)
    expect(page.get_by_test_id("prompt-text")).to_have_value("Lullaby in D major for a sleepy xylophone")
    expect(page.get_by_test_id("prompt-style")).to_have_value("lullaby")
    _screenshot(page, "studio-templates")
    assert re.search(r"E2E lullaby", page.get_by_test_id("template-list").inner_text())
