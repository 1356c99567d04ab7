"""Sign-in, roles and tokens in Chromium (issue 18): every browser here signs in through the real
/login page; the API is asked (as the admin, with a token) what the browser's actions stored.

Screenshots of /login, /account, /admin and /training as a rater and as an admin go to
``TD_E2E_SHOTS`` (default ``artifacts/screenshots``) for a person to look at.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from tests.e2e.conftest import CONTEXT_ARGS, Server, create_token, create_user, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.shared_app_last]  # its raters and ratings would change the
# others' counts from an empty app (readiness, agreement)

SHOTS = Path(os.environ.get("TD_E2E_SHOTS") or Path(__file__).resolve().parents[2] / "artifacts" / "screenshots")
GENERATION_TIMEOUT_S = 240


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=SHOTS / f"auth-{name}.png", full_page=True)


def _at_login(page: Page, server: Server, next_path: str) -> None:
    """On /login (the server may add a slash: /login/), to return to ``next_path`` after sign-in."""
    back = "" if next_path == "/" else r"\?next=" + re.escape(quote(next_path, safe=""))
    expect(page).to_have_url(re.compile(re.escape(server.url) + "/login/?" + back + "$"))


def _signed_out(browser: Browser) -> BrowserContext:
    """A browser with no session (the suite's other contexts start signed in as the admin)."""
    return browser.new_context(**CONTEXT_ARGS)


def _me(server: Server, token: str) -> dict:
    return httpx.get(server.api + "/auth/me", headers={"Authorization": f"Bearer {token}"}).raise_for_status().json()


def _one_clip(server: Server, text: str) -> int:
    with server.http() as http:
        prompt = http.post("prompts", json={"text": text}).raise_for_status().json()
        job = http.post("generate", json={"prompt_id": prompt["id"], "num_samples": 1, "duration": 0.5}
                        ).raise_for_status().json()
        deadline = time.monotonic() + GENERATION_TIMEOUT_S
        while job["status"] not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.5)
            job = http.get(f"generate/{job['id']}").raise_for_status().json()
    assert job["status"] == "completed", job
    return job["audio_ids"][0]


def test_signed_out_visit_goes_to_login_and_back(browser: Browser, server: Server) -> None:
    context = _signed_out(browser)
    page = context.new_page()
    page.goto(server.url + "/training?tab=adapters")
    _at_login(page, server, "/training?tab=adapters")
    expect(page.get_by_test_id("login")).to_contain_text("Sign in")
    _shot(page, "login")

    page.get_by_test_id("username-input").fill(server.admin_user)
    page.get_by_test_id("password-input").fill("not the password at all")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(re.compile(r"/login/?\?error=invalid&next=%2Ftraining%3Ftab%3Dadapters$"))
    _shot(page, "login-error")

    page.get_by_test_id("username-input").fill(server.admin_user)
    page.get_by_test_id("password-input").fill(server.admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{server.url}/training?tab=adapters")
    expect(page.get_by_test_id("tab-adapters")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("user-role")).to_have_text("admin")

    # The cookie: HttpOnly (page scripts cannot read it), SameSite=Lax, the whole site.
    cookie = next(c for c in context.cookies() if c["name"] == "td_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert "td_session" not in page.evaluate("document.cookie")

    # The console's setup link, once an admin exists, says so instead of offering the form.
    page.goto(server.url + "/setup?token=not-a-real-link")
    expect(page.get_by_test_id("setup-error")).to_contain_text("The first admin already exists")
    expect(page.get_by_test_id("setup-form")).to_have_count(0)
    _shot(page, "setup-done")
    context.close()


def test_a_rater_sees_only_what_a_rater_can_do(browser: Browser, page: Page, server: Server) -> None:
    password = create_user(server, "rita", "rater", display_name="Rita Rater")
    context = _signed_out(browser)
    rater = context.new_page()
    sign_in(rater, server, "rita", password, "/")
    expect(rater.get_by_test_id("user-name")).to_contain_text("Rita Rater")
    expect(rater.get_by_test_id("user-role")).to_have_text("rater")
    expect(rater.get_by_test_id("listener-note")).to_be_visible()
    expect(rater.get_by_test_id("history")).to_be_visible()
    for hidden in ("prompt-text", "generate", "nav-training", "nav-admin", "rater-picker", "rater-switch"):
        expect(rater.get_by_test_id(hidden)).to_have_count(0)
    expect(rater.get_by_test_id("nav-rate")).to_be_visible()
    _shot(rater, "studio-rater")

    rater.goto(server.url + "/training")
    expect(rater.get_by_test_id("role-required")).to_contain_text("needs the trainer role")
    expect(rater.get_by_test_id("tab-datasets")).to_have_count(0)
    _shot(rater, "training-rater")
    rater.goto(server.url + "/admin")
    expect(rater.get_by_test_id("role-required")).to_contain_text("needs the admin role")
    expect(rater.get_by_test_id("users-table")).to_have_count(0)
    token = create_token(server, "rita", password)
    assert httpx.get(server.api + "/users", headers={"Authorization": f"Bearer {token}"}).status_code == 403

    # The same page as an admin: the tabs and the admin's activate switch.
    page.goto(server.url + "/training?tab=adapters")
    expect(page.get_by_test_id("tab-adapters")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("nav-admin")).to_be_visible()
    _shot(page, "training-admin")

    # An admin promotes her: the next page she loads shows the trainer's Training page.
    page.goto(server.url + "/admin")
    row = page.locator('[data-testid="user-row"][data-username="rita"]')
    expect(row).to_be_visible()
    row.get_by_test_id("user-role-select").click()
    page.get_by_role("option", name="trainer", exact=True).click()
    expect(page.get_by_text("rita is now trainer")).to_be_visible()
    rater.goto(server.url + "/training")
    expect(rater.get_by_test_id("tab-datasets")).to_be_visible()
    expect(rater.get_by_test_id("user-role")).to_have_text("trainer")

    # Disabled: her very next action lands on /login (the API checks the session on every request).
    row.get_by_test_id("user-disable").click()
    expect(page.get_by_text("rita is disabled")).to_be_visible()
    rater.get_by_test_id("nav-studio").click()
    _at_login(rater, server, "/")
    context.close()


def test_two_raters_each_rating_is_theirs(browser: Browser, server: Server) -> None:
    audio_id = _one_clip(server, "auth: two raters, one clip")
    people = {"ann": 2, "ben": 5}
    raters: dict[str, int] = {}
    tokens: dict[str, str] = {}
    contexts = []
    for name, stars in people.items():
        password = create_user(server, name, "rater", display_name=name.title())
        tokens[name] = create_token(server, name, password)
        raters[name] = _me(server, tokens[name])["rater_id"]
        context = _signed_out(browser)
        contexts.append(context)
        tab = context.new_page()
        sign_in(tab, server, name, password, "/")
        clip = tab.get_by_test_id("history-clip").filter(has=tab.locator(f'audio[src*="/audio/{audio_id}/"]'))
        expect(clip).to_have_count(1)
        clip.get_by_test_id("history-rate").click()
        tab.get_by_role("option", name=str(stars), exact=True).click()
        expect(tab.get_by_text(f"Clip #{audio_id}: {stars}★ saved")).to_be_visible()

    got = {f["rater_id"]: f["rating"] for f in server.get("feedback", params={"audio_id": audio_id}).json()["items"]}
    assert got == {raters["ann"]: 2, raters["ben"]: 5}
    # A rating naming the other rater is refused: a person can only speak for themselves.
    forged = httpx.post(server.api + "/feedback", headers={"Authorization": f"Bearer {tokens['ann']}"},
                        json={"audio_id": audio_id, "rating": 1, "rater_id": raters["ben"]})
    assert forged.status_code == 403
    for context in contexts:
        context.close()


def test_sign_out_in_one_tab_ends_the_other(browser: Browser, server: Server) -> None:
    password = create_user(server, "tabby", "trainer")
    context = _signed_out(browser)
    first = context.new_page()
    sign_in(first, server, "tabby", password, "/")
    second = context.new_page()
    second.goto(server.url + "/rate")
    expect(second.get_by_test_id("user-role")).to_have_text("trainer")

    first.get_by_test_id("sign-out").click()
    _at_login(first, server, "/")
    # The other tab still shows its page; its next action (a link, no reload) finds the session gone.
    second.get_by_test_id("nav-training").click()
    _at_login(second, server, "/training?tab=datasets")
    context.close()


def test_signing_in_before_the_page_has_loaded_still_returns_where_asked(browser: Browser, server: Server) -> None:
    """A person quicker than the page's websocket (a slow link, a busy server): the form must not post
    before the page has read ``?next=``, or they land on / instead of where they were going."""
    password = create_user(server, "quick", "rater")
    context = _signed_out(browser)
    page = context.new_page()
    holding, held, routes = {"on": True}, [], []
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    def route(ws: WebSocketRoute) -> None:  # the backend's answers wait until released below
        backend = ws.connect_to_server()
        routes.append(ws)
        backend.on_message(lambda message: held.append(message) if holding["on"] else ws.send(message))

    page.route_web_socket(re.compile(r"/_event"), route)
    page.goto(f"{server.url}/login?next=/rate")
    page.get_by_test_id("username-input").fill("quick")
    page.get_by_test_id("password-input").fill(password)
    submit = page.get_by_test_id("login-submit")
    expect(submit).to_be_disabled()
    page.get_by_test_id("password-input").press("Enter")  # no post either
    page.wait_for_timeout(500)  # time for a post to leave, were there one
    assert not [url for url in posts if "/api/auth/login" in url], posts
    expect(page).to_have_url(re.compile(re.escape(server.url) + r"/login/?\?next=/rate$"))

    holding["on"] = False
    for message in held:
        routes[-1].send(message)
    expect(submit).to_be_enabled()
    submit.click()
    expect(page).to_have_url(re.compile(re.escape(server.url) + "/rate/?$"))
    expect(page.get_by_test_id("user-name")).to_have_text("quick")
    context.close()


def test_an_expired_session_lands_on_login(browser: Browser, server: Server) -> None:
    password = create_user(server, "expiring", "rater")
    context = _signed_out(browser)
    page = context.new_page()
    sign_in(page, server, "expiring", password, "/account")  # a page that asks the API nothing by itself
    expect(page.get_by_test_id("account-role")).to_have_text("rater")
    with sqlite3.connect(server.data_dir / "training_dashboard.db") as db:  # as if 8 days had passed
        db.execute("UPDATE auth_session SET expires_at = '2000-01-01 00:00:00.000000', last_seen_at = "
                   "'2000-01-01 00:00:00.000000' WHERE user_id = (SELECT id FROM user_account WHERE "
                   "username = 'expiring')")
    page.get_by_test_id("nav-rate").click()  # the next action (a link, no reload) meets the ended session
    _at_login(page, server, "/rate")
    page.goto(server.url + "/account")  # and so does a fresh page load
    _at_login(page, server, "/account")
    context.close()


def test_a_token_from_the_account_page_is_shown_once_and_works(page: Page, server: Server) -> None:
    page.goto(server.url + "/account")
    expect(page.get_by_test_id("account-role")).to_have_text("admin")
    page.get_by_test_id("token-name").fill("laptop CLI")
    page.get_by_test_id("token-create").click()
    secret_box = page.get_by_test_id("token-secret")
    expect(secret_box).to_have_text(re.compile(r"^td_\S{30,}$"))
    expect(page.get_by_test_id("token-created")).to_contain_text("Use it as TD_API_TOKEN for the CLI and scripts")
    secret = secret_box.inner_text()
    page.get_by_test_id("token-copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    _shot(page, "account")

    me = _me(server, secret)  # it works as a bearer token, and acts as its owner
    assert me["username"] == server.admin_user and me["role"] == "admin"

    page.reload()
    expect(page.get_by_test_id("token-secret")).to_have_count(0)  # shown once
    html = page.content()
    assert secret not in html, html[max(0, html.find(secret) - 600):html.find(secret) + 100]
    row = page.get_by_test_id("token-row").filter(has_text="laptop CLI")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("token-last-used")).not_to_have_text("never")  # the call above used it
    row.get_by_test_id("token-revoke").click()
    expect(row).to_contain_text("revoked")
    assert httpx.get(server.api + "/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_the_admin_page_lists_users_and_the_audit_log(page: Page, server: Server) -> None:
    create_user(server, "audra", "trainer", display_name="Audra Admin-Watcher")
    page.goto(server.url + "/admin")
    expect(page.locator('[data-testid="user-row"][data-username="audra"]')).to_contain_text("Audra Admin-Watcher")
    expect(page.locator('[data-testid="user-row"][data-username="admin"]')).to_be_visible()
    _shot(page, "admin-users")

    page.get_by_test_id("new-username").fill("newbie")
    page.get_by_test_id("new-password").fill("short")
    expect(page.get_by_test_id("user-create")).to_be_disabled()  # 12 characters at least
    page.get_by_test_id("new-password").fill("a-long-enough-password")
    page.get_by_test_id("user-create").click()
    expect(page.locator('[data-testid="user-row"][data-username="newbie"]')).to_be_visible()

    page.get_by_test_id("admin-tab-audit").click()
    table = page.get_by_test_id("audit-table")
    expect(table.get_by_test_id("audit-row").first).to_be_visible()
    expect(table).to_contain_text("newbie")
    page.get_by_test_id("audit-actor").fill(server.admin_user)
    page.get_by_test_id("audit-apply").click()
    expect(page.get_by_test_id("audit-count")).to_contain_text("events")
    _shot(page, "admin-audit")

    page.get_by_test_id("admin-tab-tokens").click()
    expect(page.get_by_test_id("all-tokens")).to_contain_text("e2e-suite")
    _shot(page, "admin-tokens")

    for path in ("/admin", "/account"):  # a phone's width: tables scroll inside their cards, not the page
        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(server.url + path)
        expect(page.get_by_test_id("user-role")).to_be_visible()
        _shot(page, path.strip("/") + "-390")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways at 390 px"
