"""The browser suite's app keeps its UI state in Redis (``REFLEX_REDIS_URL``, see conftest.py):
a tab's state is written there under its token, and a reload of the page finds it again."""

from __future__ import annotations

import pytest
import redis
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from training_dashboard.schemas import MAX_PROMPT_CHARS

pytestmark = pytest.mark.e2e

PROMPT = "state kept in redis: a slow cello drone"


def test_ui_state_lives_in_redis_and_survives_a_reload(page: Page, server: Server, redis_url: str) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("prompt-text").fill(PROMPT)
    # the count is computed by the backend: once it shows, the event has been processed
    expect(page.get_by_test_id("char-count")).to_have_text(f"{len(PROMPT)} / {MAX_PROMPT_CHARS} characters")
    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    assert token

    store = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in store.scan_iter(match=f"{token}_*", count=1000)]
    studio = [k for k in keys if k.endswith("studio_state")]
    assert studio, f"no StudioState key for this tab among {keys}"
    assert PROMPT.encode() in store.get(studio[0])  # the pickled state holds what the user typed

    page.reload()
    expect(page.get_by_test_id("prompt-text")).to_have_value(PROMPT)
    assert page.evaluate("() => window.sessionStorage.getItem('token')") == token
