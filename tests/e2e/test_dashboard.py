"""The proposal's success criteria, end to end in Chromium, on one app instance.

The tests run in file order on one database: first the empty app, then the workflow.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import READINESS_THRESHOLD, Server, make_tiny_adapter

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT_MS = 240_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _generate_and_rate(server: Server, ratings: list[int]) -> list[int]:
    """Seed through the real API and the real worker (tiny model)."""
    with server.http() as http:
        prompt = http.post("prompts", json={"text": "seed: calm piano"}).raise_for_status().json()
        job = http.post("generate", json={"prompt_id": prompt["id"], "num_samples": len(ratings),
                                          "duration": 0.5}).raise_for_status().json()
        deadline = time.monotonic() + GENERATION_TIMEOUT_MS / 1000
        while job["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.5)
            job = http.get(f"generate/{job['id']}").raise_for_status().json()
        assert job["status"] == "completed", job
        for audio_id, rating in zip(job["audio_ids"], ratings, strict=True):
            http.post("feedback", json={"audio_id": audio_id, "rating": rating, "tags": ["seed"]}).raise_for_status()
        return job["audio_ids"]


def _open_tab(page: Page, name: str) -> None:
    """Click a tab and wait until the app shows it (the next click must not race the switch)."""
    page.get_by_test_id(f"tab-{name}").click()
    expect(page.get_by_test_id(f"tab-{name}")).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(re.compile(f"tab={name}$"))


def _screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """At 1280 px and at 390 px, then back (artifacts/ is gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=full_page)
    page.set_viewport_size(size)


@pytest.fixture(scope="module")
def warm_adapter(server: Server) -> dict:
    path = make_tiny_adapter(server.data_dir, "warm")
    return server.post("adapters", json={
        "name": "warm", "version": "1.0.0", "path": str(path), "description": "Warm lo-fi tone from e2e feedback",
        "is_active": False, "training_config": {"epochs": 1, "lora_r": 4},
    }).raise_for_status().json()


def test_empty_states_and_tab_in_url(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page.get_by_test_id("clips-empty")).to_be_visible()
    expect(page.get_by_test_id("generate")).to_be_disabled()  # no prompt yet
    page.get_by_test_id("prompt-text").fill("x")
    page.get_by_test_id("prompt-tempo").fill("300")
    expect(page.get_by_test_id("prompt-problem")).to_contain_text("Tempo must be a whole number from 40 to 200")
    expect(page.get_by_test_id("generate")).to_be_disabled()
    page.goto(server.url + "/training")
    expect(page.get_by_test_id("datasets-empty")).to_contain_text("A dataset is a frozen snapshot")
    _open_tab(page, "adapters")
    expect(page).to_have_url(re.compile(r"/training\?tab=adapters$"))
    expect(page.get_by_test_id("adapters-empty")).to_contain_text("No adapters yet")
    page.reload()  # the tab survives a reload because it lives in the URL
    expect(page.get_by_test_id("adapters-empty")).to_be_visible()
    expect(page.get_by_test_id("tab-adapters")).to_have_attribute("aria-selected", "true")
    page.goto(server.url + "/training?tab=progress")
    expect(page.get_by_test_id("readiness-fraction")).to_have_text(f"0 / {READINESS_THRESHOLD} samples")
    _open_tab(page, "datasets")
    page.get_by_role("button", name="Create your first dataset").click()
    expect(page.get_by_test_id("dataset-form")).to_be_visible()
    expect(page.get_by_test_id("ds-preview")).to_have_text("0 samples match this filter")
    expect(page.get_by_test_id("ds-create")).to_be_disabled()  # nothing matches


def test_success_criteria_without_a_page_reload(page: Page, server: Server, warm_adapter: dict) -> None:
    _generate_and_rate(server, [2, 5])  # one clip below the min_rating filter, one above
    page.goto(server.url + "/")
    page.evaluate("window.__tdMarker = 'same-page'")

    # Activate the adapter on the training page; it shows at once
    page.get_by_test_id("nav-training").click()
    _open_tab(page, "adapters")
    card = page.get_by_test_id("adapter-card").filter(has_text="warm")
    expect(card.get_by_test_id("adapter-status")).to_have_text("inactive")
    card.get_by_test_id("adapter-toggle").click()
    expect(card.get_by_test_id("adapter-status")).to_have_text("active")
    expect(card).to_contain_text("Warm lo-fi tone")

    # (3) select it in the studio and generate with it
    page.get_by_test_id("nav-studio").click()
    selector = page.get_by_test_id("adapter-selector")
    expect(selector.get_by_role("radio", name=re.compile("Base model \\(tiny\\)"))).to_be_checked()
    selector.get_by_role("radio", name=re.compile("warm")).click()
    expect(selector.get_by_role("radio", name=re.compile("warm"))).to_be_checked()
    page.get_by_test_id("prompt-text").fill("A warm lo-fi beat with soft piano")
    page.get_by_test_id("prompt-duration").fill("0.5")
    expect(page.get_by_test_id("generate")).to_be_enabled()
    page.get_by_test_id("generate").click()
    status = page.get_by_test_id("job-status")
    expect(status).to_have_text(re.compile("completed|failed|cancelled"), timeout=GENERATION_TIMEOUT_MS)
    assert status.inner_text() == "completed", page.get_by_test_id("job-error").all_inner_texts()
    expect(page.get_by_test_id("clip-card")).to_have_count(2)
    expect(page.get_by_test_id("clip-adapter-hidden").first).to_be_visible()  # blind A/B until the choice
    job_id = int(re.search(r"#(\d+)", page.get_by_text(re.compile(r"^Job #\d+$")).inner_text()).group(1))
    job = server.get(f"generate/{job_id}").json()
    assert job["adapter_id"] == warm_adapter["id"] and len(job["audio_ids"]) == 2

    # the player streams the WAV from the API and can seek
    audio = page.get_by_test_id("clip-audio").first
    assert re.search(r"/api/audio/\d+/stream(\?exp=\d+&sig=[\w-]+)?$", audio.get_attribute("src") or "")
    handle = audio.element_handle()
    page.wait_for_function("el => el.readyState >= 1 && el.duration > 0.4", arg=handle)
    audio.evaluate("el => { el.currentTime = 0.25; }")
    page.wait_for_function("el => !el.seeking && Math.abs(el.currentTime - 0.25) < 0.05", arg=handle)

    # rate both clips; the readiness line follows each rating
    readiness = page.get_by_test_id("readiness-line")
    expect(readiness).to_have_text("2 more ratings needed for training")
    clips = page.get_by_test_id("clip-card")
    for index, stars, left in ((0, "5", "1 more rating needed for training"), (1, "4", "Ready to train")):
        clip = clips.nth(index)
        clip.get_by_role("radio", name=stars, exact=True).click()
        clip.get_by_test_id("tag-melodic").click()
        clip.get_by_test_id("free-tags").fill("warm, e2e")
        clip.get_by_test_id("submit-rating").click()
        expect(clip.get_by_test_id("rating-saved")).to_be_visible()
        expect(readiness).to_contain_text(left)
    page.get_by_test_id("prefer-a").click()
    expect(page.get_by_test_id("pref-result")).to_have_text("A preferred over B")
    expect(page.get_by_test_id("clip-adapter").first).to_contain_text("warm")  # revealed once stored
    _screenshot(page, "studio-clips")
    for width in (1280, 390):  # the 1-5 rating row never wraps a lone "5" onto the next line
        page.set_viewport_size({"width": width, "height": 900})
        for index in range(2):
            radios = clips.nth(index).get_by_test_id("rating-choices").get_by_role("radio")
            tops = {round(radios.nth(n).bounding_box()["y"]) for n in range(5)}
            assert len(tops) == 1, f"rating choices on {len(tops)} lines at {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})

    # Progress tab: ready, and its button opens the Datasets tab's form
    page.get_by_test_id("readiness-link").click()
    expect(page.get_by_test_id("readiness-fraction")).to_have_text("3 / 3 samples")
    expect(page.get_by_test_id("ready-badge")).to_have_text("Ready to train")
    expect(page.get_by_test_id("stat-pairs")).to_have_text("1")
    page.get_by_test_id("ready-create").click()
    expect(page).to_have_url(re.compile(r"tab=datasets"))
    form = page.get_by_test_id("dataset-form")
    expect(form).to_be_visible()

    # (1) a supervised dataset with min_rating 4: validation first, then the preview count
    form.get_by_test_id("ds-name").fill("bad name!")
    expect(form.get_by_test_id("ds-validation")).to_contain_text("Names start with a letter or digit")
    expect(form.get_by_test_id("ds-create")).to_be_disabled()
    form.get_by_test_id("ds-name").fill("e2e-supervised")
    expect(form.get_by_test_id("ds-validation")).to_have_count(0)
    expect(form.get_by_text("Minimum rating: 4★")).to_be_visible()
    preview = form.get_by_test_id("ds-preview")
    expect(preview).to_have_text("3 samples match this filter")
    _screenshot(page, "training-dataset-form")
    previewed = int(preview.inner_text().split()[0])
    expect(form.get_by_test_id("ds-create")).to_be_enabled()
    form.get_by_test_id("ds-create").click()
    expect(page.get_by_test_id("dataset-form")).to_have_count(0)
    row = page.get_by_test_id("dataset-row").filter(has_text="e2e-supervised")
    expect(row.get_by_test_id("ds-row-count")).to_contain_text(f"{previewed} samples")
    expect(page.get_by_text("Dataset 'e2e-supervised' created")).to_be_visible()
    created = server.get("datasets").json()["items"][0]
    assert (created["name"], created["type"], created["sample_count"]) == ("e2e-supervised", "supervised", previewed)
    assert created["filter"]["min_rating"] == 4

    # (2) export it, see the CLI command, copy it
    row.get_by_test_id("ds-row-export-button").click()
    page.get_by_test_id("export-run").click()
    command = page.get_by_test_id("export-command")
    expect(command).to_contain_text("training_dashboard.training")
    expect(page.get_by_test_id("export-count")).to_have_text(str(previewed))
    expect(page.get_by_test_id("export-hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    page.get_by_test_id("export-copy").click()
    expect(page.get_by_text("Command copied")).to_be_visible()
    _screenshot(page, "training-export-dialog", full_page=False)
    assert page.evaluate("navigator.clipboard.readText()") == command.inner_text()
    page.keyboard.press("Escape")
    expect(row.get_by_test_id("ds-row-export")).to_contain_text("Exported (jsonl")

    # (4) all of it in one page load
    assert page.evaluate("window.__tdMarker") == "same-page"


def test_adapter_toggle_reflected_in_studio_selector(page: Page, server: Server, warm_adapter: dict) -> None:
    page.goto(server.url + "/training?tab=adapters")
    page.evaluate("window.__tdMarker = 'toggle'")
    card = page.get_by_test_id("adapter-card").filter(has_text="warm")
    page.get_by_test_id("adapter-filter").get_by_role("radio", name="Active", exact=True).click()
    expect(card).to_be_visible()
    card.get_by_test_id("adapter-toggle").click()
    expect(page.get_by_test_id("adapters-empty")).to_contain_text("No adapters match this filter")
    _open_tab(page, "progress")
    _open_tab(page, "adapters")  # the filter is kept across tabs
    expect(page.get_by_test_id("adapter-filter").get_by_role("radio", name="Active", exact=True)).to_be_checked()
    page.get_by_test_id("nav-studio").click()
    selector = page.get_by_test_id("adapter-selector")
    expect(selector.get_by_role("radio", name=re.compile("Base model"))).to_be_visible()
    expect(selector.get_by_role("radio", name=re.compile("warm"))).to_have_count(0)
    page.get_by_test_id("nav-training").click()
    expect(page).to_have_url(re.compile(r"/training\?tab=adapters$"))  # back to the tab last shown
    expect(page.get_by_test_id("tab-adapters")).to_have_attribute("aria-selected", "true")
    page.get_by_test_id("adapter-filter").get_by_role("radio", name="All", exact=True).click()
    page.get_by_test_id("adapter-card").filter(has_text="warm").get_by_test_id("adapter-toggle").click()
    expect(card.get_by_test_id("adapter-status")).to_have_text("active")
    page.get_by_test_id("nav-studio").click()
    expect(selector.get_by_role("radio", name=re.compile("warm"))).to_be_visible()
    assert page.evaluate("window.__tdMarker") == "toggle"


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots(page: Page, server: Server, width: int) -> None:
    """Saved for a human to look at (artifacts/ is gitignored); every page renders at both widths."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(server.url + "/")
    page.get_by_test_id("prompt-text").fill("A warm lo-fi beat with soft piano")
    expect(page.get_by_test_id("adapter-selector").get_by_role("radio", name=re.compile("warm"))).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"studio-{width}.png", full_page=True)
    for tab, ready in (("datasets", "dataset-row"), ("adapters", "adapter-card"), ("progress", "rating-chart")):
        page.goto(f"{server.url}/training?tab={tab}")
        expect(page.get_by_test_id(ready).first).to_be_visible()
        page.wait_for_timeout(300)  # let the chart's animation settle before the picture
        page.screenshot(path=SCREENSHOTS / f"training-{tab}-{width}.png", full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"/training?tab={tab} scrolls sideways at {width} px"


def test_only_the_apps_own_origin_is_allowed(server: Server) -> None:
    """The served app answers CORS preflights for its own origin, never for a foreign one."""
    port = server.url.rsplit(":", 1)[1]
    preflight = {"Access-Control-Request-Method": "POST"}
    own = httpx.options(f"{server.api}/prompts", headers={"Origin": f"http://127.0.0.1:{port}", **preflight})
    assert own.headers.get("access-control-allow-origin") == f"http://127.0.0.1:{port}"
    foreign = httpx.options(f"{server.api}/prompts", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in foreign.headers
    get = httpx.get(f"{server.api}/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in get.headers
