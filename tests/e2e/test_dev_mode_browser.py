"""The README's app command (``./scripts/run.sh``: ``reflex run`` in dev mode) in Chromium: the UI on a
dev server of its own port, the API on the backend's. The rest of the suite drives production builds
(one port), where a form posting to ``/api/...`` reaches the API; here it must go to the backend's
address (``state.api.api_path``), and the session cookie the answer sets must reach the websocket."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import CONTEXT_ARGS, ROOT, Server, sign_in, start_app

pytestmark = [pytest.mark.e2e, pytest.mark.own_app]

FIRST_LOAD_MS = 120_000  # the dev server compiles each page's modules on its first request: every wait here


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dev-mode")
    # Its own web dir: dev mode rewrites the compiled pages, which the suite's app still serves from
    # ROOT/.web. The npm packages are shared (read only).
    web = root / "web"
    if (ROOT / ".web" / "node_modules").is_dir():
        shutil.copytree(ROOT / ".web", web, symlinks=True, ignore=shutil.ignore_patterns("node_modules", "build"))
        (web / "node_modules").symlink_to(ROOT / ".web" / "node_modules")
    with start_app(root / "data", {"REFLEX_WEB_WORKDIR": str(web)}, dev=True) as app:
        yield app


@pytest.fixture(scope="module")
def browser_context_args() -> dict[str, Any]:
    """Not the suite's app, nor its signed-in state: this browser starts signed out."""
    return dict(CONTEXT_ARGS)


def _listening(port: int) -> set[str]:
    """The addresses a TCP socket listens on at ``port`` (Linux: /proc/net/tcp and tcp6, state 0A)."""
    found = set()
    for table, size in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port and len(address) == size:
                found.add(address)
    return found


def test_the_dev_server_listens_on_loopback_only(dev_server: Server) -> None:
    """Reflex starts Vite with ``--host`` (every interface); ``training_dashboard.loopback`` pins it."""
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 as /proc writes them
    for port in (urlsplit(dev_server.url).port, urlsplit(dev_server.backend).port):
        assert port is not None
        addresses = _listening(port)
        assert addresses and addresses <= loopback, (port, addresses)


def test_sign_in_and_out_across_the_two_ports(page: Page, dev_server: Server) -> None:
    page.set_default_timeout(FIRST_LOAD_MS)
    page.goto(dev_server.url + "/training?tab=runs")
    expect(page).to_have_url(re.compile(r"/login/?\?next="), timeout=FIRST_LOAD_MS)
    action = urlsplit(page.get_by_test_id("login-form").get_attribute("action") or "")
    # the backend's address as the browser sees it (Reflex's api_url: localhost, the UI's host)
    assert (action.hostname, action.port, action.path) == ("localhost", urlsplit(dev_server.backend).port,
                                                           "/api/auth/login/form")

    sign_in(page, dev_server, dev_server.admin_user, dev_server.admin_password, "/training?tab=runs")
    expect(page.get_by_test_id("user-role")).to_have_text("admin", timeout=FIRST_LOAD_MS)
    expect(page.get_by_test_id("tab-runs")).to_have_attribute("aria-selected", "true",  # the websocket is signed in
                                                              timeout=FIRST_LOAD_MS)

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(re.escape(dev_server.url) + r"/login/?$"), timeout=FIRST_LOAD_MS)
    page.goto(dev_server.url + "/account")
    expect(page).to_have_url(re.compile(r"/login/?\?next="), timeout=FIRST_LOAD_MS)  # the session ended
