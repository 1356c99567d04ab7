"""Single sign-on end to end in Chromium (issue 18) against a real OpenID provider on 127.0.0.1
(``oidc-provider-mock``): /login → "Sign in with single sign-on" → the provider's sign-in page →
back signed in as a new rater; an admin promotes them, and their next page load has the trainer role.

The app is its own (``TD_OIDC_*`` pointing at the provider), not the suite's shared server, and the
browser context starts signed out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.conftest import CONTEXT_ARGS, Server, start_app
from tests.factories import oidc_provider, set_oidc_claims

pytestmark = [pytest.mark.e2e, pytest.mark.own_app]

SUB = "idp-user-4711"
OFFSITE = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")  # the provider's page links a stylesheet from a CDN


def _signed_out(browser: Browser) -> BrowserContext:
    """A new browser with no session; nothing off this machine is fetched."""
    context = browser.new_context(**CONTEXT_ARGS)
    context.route(OFFSITE, lambda route: route.abort())
    return context


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider() as url:
        yield url


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory, issuer: str) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("e2e-oidc") / "data"
    env = {"TD_OIDC_ISSUER": issuer, "TD_OIDC_CLIENT_ID": "training-dashboard", "TD_OIDC_CLIENT_SECRET": "e2e-secret"}
    with start_app(data_dir, env) as app:
        yield app


def test_single_sign_on_creates_a_rater_whom_an_admin_promotes(browser: Browser, sso_server: Server,
                                                                 issuer: str) -> None:
    server = sso_server
    set_oidc_claims(issuer, SUB, {"preferred_username": "Sso.Sam", "name": "Sam Single", "email": "sam@example.org"})
    context = _signed_out(browser)
    page = context.new_page()
    page.goto(server.url + "/login?next=/training")
    page.get_by_test_id("sso-login").click()

    # At the provider: its own page, on its own origin.
    page.wait_for_url(re.compile(re.escape(issuer) + "/oauth2/authorize"))
    page.locator('input[name="sub"]').fill(SUB)
    page.get_by_role("button", name="Authorize", exact=True).click()

    # Back in the app, signed in as a new rater: /training (where they were going) says it needs a trainer.
    page.wait_for_url(re.compile(re.escape(server.url) + "/training"))
    expect(page.get_by_test_id("user-role")).to_have_text("rater")
    expect(page.get_by_test_id("user-name")).to_contain_text("Sam Single")
    expect(page.get_by_test_id("role-required")).to_contain_text("needs the trainer role")
    me = context.request.get(server.api + "/auth/me").json()
    assert (me["username"], me["role"]) == ("sso.sam", "rater")
    assert context.request.get(server.api + "/feedback/stats").status == 403
    cookie = next(c for c in context.cookies() if c["name"] == "td_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not any(c["name"] == "td_oidc" for c in context.cookies())  # the flow's state is gone

    # An admin promotes them through the API; their very next request and page load have the new role.
    with server.http() as http:
        user = next(u for u in http.get("users").raise_for_status().json() if u["username"] == "sso.sam")
        assert user["has_password"] is False
        http.patch(f"users/{user['id']}", json={"role": "trainer"}).raise_for_status()
        audit = http.get("audit", params={"action": "login.ok"}).raise_for_status().json()
    assert context.request.get(server.api + "/feedback/stats").status == 200
    page.goto(server.url + "/training")
    expect(page.get_by_test_id("tab-datasets")).to_be_visible()
    expect(page.get_by_test_id("user-role")).to_have_text("trainer")
    assert any(r["actor_name"] == "sso.sam" and '"via": "oidc"' in (r["detail"] or "") for r in audit["items"])

    # Signing in again (a new browser) finds the same user, now a trainer.
    again = _signed_out(browser)
    second = again.new_page()
    second.goto(server.url + "/login?next=/")
    second.get_by_test_id("sso-login").click()
    second.wait_for_url(re.compile(re.escape(issuer) + "/oauth2/authorize"))
    second.get_by_role("button", name=SUB, exact=True).click()  # the provider offers the recent user
    second.wait_for_url(re.compile(re.escape(server.url) + "/?$"))
    expect(second.get_by_test_id("user-role")).to_have_text("trainer")
    assert again.request.get(server.api + "/auth/me").json()["id"] == user["id"]
    again.close()
    context.close()


def test_a_failed_single_sign_on_says_so_on_login(browser: Browser, sso_server: Server, issuer: str) -> None:
    context = _signed_out(browser)
    page = context.new_page()
    page.goto(sso_server.url + "/login?next=/rate")
    page.get_by_test_id("sso-login").click()
    page.wait_for_url(re.compile(re.escape(issuer) + "/oauth2/authorize"))
    page.get_by_role("button", name="Deny", exact=True).click()
    page.wait_for_url(re.compile(re.escape(sso_server.url) + r"/login/?\?error=sso"))
    expect(page.get_by_test_id("login-error")).to_contain_text("Single sign-on did not complete")
    assert context.request.get(sso_server.api + "/auth/me").status == 401
    context.close()
