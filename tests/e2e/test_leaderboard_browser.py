"""The leaderboard on the Adapters tab, in Chromium, on clips the real worker generated."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, make_tiny_adapter

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT_S = 240
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _clip(http: httpx.Client, prompt_id: int, adapter_id: int | None) -> int:
    job = http.post("generate", json={"prompt_id": prompt_id, "adapter_id": adapter_id, "num_samples": 1,
                                      "duration": 0.5, "seed": 3}).raise_for_status().json()
    deadline = time.monotonic() + GENERATION_TIMEOUT_S
    while job["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = http.get(f"generate/{job['id']}").raise_for_status().json()
    assert job["status"] == "completed", job
    return job["audio_ids"][0]


def _prefer(http: httpx.Client, chosen: int, rejected: int, times: int) -> None:
    for _ in range(times):
        http.post("preferences", json={"chosen_id": chosen, "rejected_id": rejected}).raise_for_status()


def test_leaderboard_ranks_an_adapter_and_refreshes(page: Page, server: Server) -> None:
    path = make_tiny_adapter(server.data_dir, "leader", seed=4)
    with server.http() as http:
        adapter = http.post("adapters", json={"name": "leader", "path": str(path), "is_active": True}
                            ).raise_for_status().json()
        prompt = http.post("prompts", json={"text": "leaderboard: harp and rain"}).raise_for_status().json()
        base_clip, leader_clip = _clip(http, prompt["id"], None), _clip(http, prompt["id"], adapter["id"])
        _prefer(http, leader_clip, base_clip, 6)
        _prefer(http, base_clip, leader_clip, 2)

        page.goto(server.url + "/training?tab=adapters")
        board = page.get_by_test_id("leaderboard")
        row = board.get_by_test_id("leaderboard-row").filter(has_text="leader@1.0.0")
        expect(row).to_contain_text("6–2")
        expect(row).to_contain_text(" to ")  # the 95 % interval, in words and as a bar
        mine = next(e for e in http.get("leaderboard").json()["items"] if e["adapter_id"] == adapter["id"])
        expect(row.get_by_test_id("leaderboard-strength")).to_have_text(f"{mine['strength']:+.2f}")
        expect(board.get_by_test_id("leaderboard-row").filter(has_text="base")).to_be_visible()

        _prefer(http, leader_clip, base_clip, 3)  # more choices arrive; Refresh shows them
        board.get_by_test_id("leaderboard-refresh").click()
        expect(row).to_contain_text("9–2")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # for a human to look at (artifacts/ is gitignored)
    board.screenshot(path=SCREENSHOTS / "leaderboard-1280.png")
    page.set_viewport_size({"width": 390, "height": 900})
    expect(row).to_be_attached()
    board.screenshot(path=SCREENSHOTS / "leaderboard-390.png")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the leaderboard makes /training?tab=adapters scroll sideways at 390 px"
