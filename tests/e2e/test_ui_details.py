"""Small things a person notices (issue 9 item 8): tab clicks, the favicon, the model's state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def test_tab_clicks_switch_without_waiting_for_the_backend(page: Page, server: Server) -> None:
    """While every backend message is held back, two quick tab clicks both show at once and
    rewrite the address; once the messages flow again the backend has both, in order."""
    held: list[str | bytes] = []
    holding = {"on": False}
    routes: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        backend = ws.connect_to_server()
        routes.append(ws)

        def from_backend(message: str | bytes) -> None:
            if holding["on"]:
                held.append(message)
            else:
                ws.send(message)

        backend.on_message(from_backend)

    page.route_web_socket(re.compile(r"/_event"), route)
    page.goto(server.url + "/training")
    expect(page.get_by_test_id("tab-datasets")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("skeleton")).to_have_count(0)  # the page's data arrived: the socket works
    # The Progress tab's statistics too (loaded beside the datasets; slower when the shared app is busy):
    page.get_by_test_id("tab-progress").click()
    expect(page.get_by_test_id("readiness-fraction")).to_be_visible()
    page.get_by_test_id("tab-datasets").click()
    expect(page.get_by_test_id("tab-datasets")).to_have_attribute("aria-selected", "true")

    holding["on"] = True
    page.get_by_test_id("tab-adapters").click()
    page.get_by_test_id("tab-progress").click()
    expect(page.get_by_test_id("tab-progress")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("tab-adapters")).to_have_attribute("aria-selected", "false")
    expect(page).to_have_url(re.compile(r"/training\?tab=progress$"))
    expect(page.get_by_test_id("readiness-fraction")).to_be_visible()

    holding["on"] = False
    for message in held:
        routes[-1].send(message)
    # The backend heard both clicks: the header's Training link now leads back to the last one.
    expect(page.get_by_test_id("nav-training")).to_have_attribute("href", re.compile(r"tab=progress$"))
    expect(page.get_by_test_id("tab-progress")).to_have_attribute("aria-selected", "true")
    page.get_by_test_id("tab-datasets").click()
    expect(page.get_by_test_id("tab-datasets")).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(re.compile(r"/training\?tab=datasets$"))


def test_no_failed_requests_and_a_favicon(page: Page, server: Server) -> None:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    for path in ("/", "/training?tab=adapters"):
        page.goto(server.url + path, wait_until="networkidle")
    icon = page.request.get(server.url + "/favicon.ico")
    assert icon.ok and icon.body()[:4] == b"\x00\x00\x01\x00"  # an .ico
    assert failed == []


def test_studio_shows_the_model_state_at_once(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    status = page.get_by_test_id("model-status")
    expect(status).to_have_attribute("data-status", "ready")  # the fixture waited for the tiny model
    expect(status).to_contain_text("Base model tiny is ready")
