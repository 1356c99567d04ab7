"""``TD_AUTH=off`` (one trusted machine, loopback only) in Chromium: no sign-in anywhere, every page
as the local admin, and listeners still pick their name under "Who is listening?"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import CONTEXT_ARGS, Server, start_app

pytestmark = [pytest.mark.e2e, pytest.mark.own_app]


@pytest.fixture(scope="module")
def off_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start_app(tmp_path_factory.mktemp("auth-off") / "data", {"TD_AUTH": "off"}) as app:
        yield app


@pytest.fixture(scope="module")
def browser_context_args() -> dict[str, Any]:
    """Not the suite's signed-in state (and not its app): this app has no sign-in."""
    return dict(CONTEXT_ARGS)


def test_no_sign_in_and_who_is_listening(page: Page, off_server: Server) -> None:
    page.goto(off_server.url + "/training?tab=adapters")
    expect(page.get_by_test_id("tab-adapters")).to_have_attribute("aria-selected", "true")  # no /login
    expect(page.get_by_test_id("nav-admin")).to_be_visible()  # the local admin
    expect(page.get_by_test_id("sign-out")).to_have_count(0)
    expect(page.get_by_test_id("user-name")).to_have_count(0)

    page.goto(off_server.url + "/rate")
    picker = page.get_by_test_id("rater-picker")
    expect(picker).to_contain_text("Who is listening?")
    for _ in range(3):  # a state update landing while typing can reset the controlled input: type again
        page.get_by_test_id("rater-name").fill("Offline Olga")
        if page.get_by_test_id("rater-add").is_enabled():
            break
        page.wait_for_timeout(1000)
    page.get_by_test_id("rater-add").click()
    expect(picker).to_be_hidden()
    expect(page.get_by_test_id("rater-switch")).to_contain_text("Offline Olga")

    page.goto(off_server.url + "/account")
    expect(page.get_by_text("Sign-in is off (TD_AUTH=off)")).to_be_visible()
    page.goto(off_server.url + "/login")
    expect(page).to_have_url(off_server.url + "/")  # nothing to sign in to: on to the app
