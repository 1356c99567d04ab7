"""Training runs in the browser: Train from a dataset, watch the chart grow without a reload,
see the adapter appear, compare two runs."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.test_dashboard import GENERATION_TIMEOUT_MS, _open_tab, _screenshot

pytestmark = pytest.mark.e2e
RUN_TIMEOUT_MS = 300_000


def _dataset(server: Server, name: str) -> dict:
    """6 clips from the real worker, all rated 5, frozen into a supervised dataset (through the API)."""
    with server.http() as http:
        prompt = http.post("prompts", json={"text": f"{name}: calm piano"}).raise_for_status().json()
        ids = []
        for seed in (1, 2):
            job = http.post("generate", json={"prompt_id": prompt["id"], "num_samples": 3, "duration": 0.5,
                                              "seed": seed}).raise_for_status().json()
            deadline = time.monotonic() + GENERATION_TIMEOUT_MS / 1000
            while job["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
                time.sleep(0.3)
                job = http.get(f"generate/{job['id']}").raise_for_status().json()
            assert job["status"] == "completed", job
            ids += job["audio_ids"]
        for audio_id in ids:
            http.post("feedback", json={"audio_id": audio_id, "rating": 5, "tags": ["runs"]}).raise_for_status()
        return http.post("datasets", json={"name": name, "filter": {"required_tags": ["runs"]}}) \
            .raise_for_status().json()


def _points(page: Page) -> int:
    return int(page.get_by_test_id("run-loss-chart").get_attribute("data-points") or "0")


def test_train_from_a_dataset_and_watch_it_live(page: Page, server: Server) -> None:
    dataset = _dataset(server, "e2e-runs")
    page.goto(server.url + "/training")
    page.evaluate("window.__tdMarker = 'one-load'")
    row = page.get_by_test_id("dataset-row").filter(has_text="e2e-runs")
    row.get_by_test_id("ds-row-train").click()
    expect(page.get_by_test_id("run-preset-quick")).to_be_visible()
    page.get_by_test_id("run-preset-quick").click()
    page.get_by_text("Advanced options").click()
    epochs = page.get_by_test_id("run-opt-epochs")
    expect(epochs).to_have_value("1")  # the quick preset filled the form
    epochs.fill("0")
    expect(page.get_by_text("--epochs must be between 1 and 1000", exact=True)).to_be_visible()  # the CLI's range
    expect(page.get_by_test_id("run-start")).to_be_disabled()
    # Long enough to watch: 6 clips (one held out), batch 2 -> 3 steps per epoch, 300 steps. (25 epochs
    # ran in 6 s on a fresh clone while training took both cores: the chart was seen at 37 and 76 points.)
    epochs.fill("100")
    page.get_by_test_id("run-opt-patience").fill("0")  # no early stop: the run takes all its steps
    page.get_by_test_id("run-opt-batch_size").fill("2")
    page.get_by_test_id("run-opt-learning_rate").fill("0.01")
    page.get_by_test_id("run-name-input").fill("e2e-quick")
    _screenshot(page, "runs-form", full_page=False)
    page.get_by_test_id("run-start").click()

    expect(page).to_have_url(re.compile(r"tab=runs"))
    view = page.get_by_test_id("run-view")
    expect(view).to_be_visible()
    expect(view.get_by_test_id("run-status")).to_have_text(re.compile("queued|running"))
    seen: list[int] = []
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while len(seen) < 3 and time.monotonic() < deadline:  # the chart gains points at least twice
        n = _points(page)
        if n and (not seen or n > seen[-1]):
            seen.append(n)
        page.wait_for_timeout(200)
    assert len(seen) >= 3 and seen == sorted(seen), seen
    expect(view.get_by_test_id("run-log")).to_contain_text("step")
    _screenshot(page, "runs-live")
    expect(view.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_TIMEOUT_MS)
    expect(view.get_by_test_id("run-step")).to_have_text("step 300 / 300")
    assert _points(page) >= 300
    expect(view.get_by_test_id("run-log")).to_contain_text("registered adapter")
    run = server.get("runs", params={"dataset_id": dataset["id"]}).json()["items"][0]
    assert run["status"] == "completed" and run["config"]["epochs"] == 100 and run["config"]["preset"] == "quick"
    _screenshot(page, "runs-completed")

    view.get_by_test_id("run-adapter-link").click()
    expect(page.get_by_test_id("tab-adapters")).to_have_attribute("aria-selected", "true")
    card = page.get_by_test_id("adapter-card").filter(has_text="e2e-quick")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("adapter-status")).to_have_text("inactive")
    assert page.evaluate("window.__tdMarker") == "one-load"


def test_compare_two_runs(page: Page, server: Server) -> None:
    dataset = server.get("datasets").json()["items"]
    dataset_id = next(d["id"] for d in dataset if d["name"] == "e2e-runs")
    second = server.post("runs", json={
        "dataset_id": dataset_id, "task": "sft", "preset": "quick", "name": "e2e-slow-lr",
        "config": {"epochs": 10, "batch_size": 2, "learning_rate": 0.001}}).raise_for_status().json()
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while server.get(f"runs/{second['id']}").json()["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    page.goto(server.url + "/training?tab=runs")
    rows = page.get_by_test_id("run-row")
    for name in ("e2e-quick", "e2e-slow-lr"):
        rows.filter(has_text=name).get_by_test_id("run-compare-pick").click()
    expect(page.get_by_test_id("runs-compare")).to_be_enabled()
    page.get_by_test_id("runs-compare").click()
    compare = page.get_by_test_id("run-compare")
    expect(compare).to_be_visible()
    expect(compare.locator(".recharts-line")).to_have_count(2)
    differing = compare.locator("[data-differs='true']")
    expect(differing.filter(has_text="learning_rate")).to_have_count(1)
    expect(differing.filter(has_text="epochs")).to_have_count(1)
    expect(compare.locator("[data-differs='false']").filter(has_text="lora_r")).to_have_count(1)
    _screenshot(page, "runs-compare")
    _open_tab(page, "datasets")


CHART_CODE = "recharts-line"  # a class name in recharts' code: the chart library is in that script


def test_the_chart_library_loads_with_the_runs_tab(page: Page, server: Server) -> None:
    """The Datasets tab fetches no chart code (recharts is a chunk of its own); showing the Runs
    tab fetches it, before any run is opened."""
    scripts: list = []
    page.on("response", lambda r: scripts.append(r) if r.url.endswith(".js") else None)
    page.goto(server.url + "/training", wait_until="networkidle")
    expect(page.get_by_test_id("tab-datasets")).to_have_attribute("aria-selected", "true")
    assert scripts and not [r.url for r in scripts if CHART_CODE in r.text()]
    with page.expect_response(lambda r: r.url.endswith(".js")) as chart:
        _open_tab(page, "runs")
    assert CHART_CODE in chart.value.text()
    expect(page.get_by_test_id("run-view")).to_have_count(0)  # no run was opened
