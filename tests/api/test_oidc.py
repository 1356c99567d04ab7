"""Single sign-on with OpenID Connect against a real provider on 127.0.0.1 (``oidc-provider-mock``, a
Flask app built on Authlib's server side): the code flow with state, nonce and PKCE, the ID token's
checks, the user made on a first sign-in, and every failure landing on /login?error=...
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from tests.factories import ANONYMOUS, oidc_provider, set_oidc_claims
from training_dashboard.api import oidc as oidc_api
from training_dashboard.api.access import COOKIE
from training_dashboard.config import Settings
from training_dashboard.db.models import AuditEvent, UserAccount
from training_dashboard.services.oidc import SsoFailed, identity_of, normalise_username

CLIENT_ID = "training-dashboard"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider() as issuer:
        yield issuer


@pytest.fixture
def settings(settings: Settings, provider: str) -> Settings:
    return settings.model_copy(update={"oidc_issuer": provider, "oidc_client_id": CLIENT_ID,
                                       "oidc_client_secret": "client-secret"})


@pytest.fixture
async def browser(app):  # type: ignore[no-untyped-def]
    """A client with no credentials of its own that keeps its cookies, like a browser."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                 headers=ANONYMOUS) as c:
        yield c


async def start(browser: httpx.AsyncClient, next_path: str = "/rate") -> str:
    """/api/auth/oidc/login: the provider's authorization URL it sends the browser to."""
    r = await browser.get("/auth/oidc/login", params={"next": next_path})
    assert r.status_code == 302, r.text
    return r.headers["location"]


async def at_provider(authorize_url: str, sub: str | None, *, deny: bool = False) -> str:
    """The person signs in at the provider (its form); where it sends the browser back."""
    form = {"action": "deny"} if deny else {"sub": sub or ""}
    async with httpx.AsyncClient() as c:
        r = await c.post(authorize_url, data=form)
    assert r.status_code == 302, r.text
    return r.headers["location"]


async def sign_in(browser: httpx.AsyncClient, sub: str, next_path: str = "/rate") -> httpx.Response:
    return await browser.get(await at_provider(await start(browser, next_path), sub))


def login_error(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    url = urlsplit(response.headers["location"])
    assert url.path == "/login", response.headers["location"]
    return parse_qs(url.query)["error"][0]


def audit_rows(db, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


async def test_login_sends_the_browser_to_the_provider_with_state_nonce_and_pkce(browser, provider):
    url = urlsplit(await start(browser))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == provider
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    assert set(query["scope"].split()) >= {"openid", "profile", "email"}
    assert query["redirect_uri"] == "http://test/api/auth/oidc/callback"
    assert query["state"] and query["nonce"] and query["code_challenge_method"] == "S256"
    cookie = next(c for c in browser.cookies.jar if c.name == oidc_api.STATE_COOKIE)
    assert cookie.path == "/api/auth/oidc" and cookie.has_nonstandard_attr("HttpOnly")
    assert query["state"] not in cookie.value  # signed, not plain; the verifier never goes to the provider
    assert "code_verifier" not in query


async def test_a_first_sign_in_creates_a_rater_and_the_second_finds_them(app, browser, provider, db):
    claims = {"preferred_username": "Sam.Sso", "name": "Sam Sso", "email": "sam@example.org"}
    set_oidc_claims(provider, "u-1001", claims)
    r = await sign_in(browser, "u-1001")
    assert r.status_code == 303 and r.headers["location"] == "/rate"
    assert f"{COOKIE}=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    me = (await browser.get("/auth/me")).json()
    assert (me["username"], me["display_name"], me["role"]) == ("sam.sso", "Sam Sso", "rater")
    first_cookie = browser.cookies.get(COOKIE)

    browser.cookies.clear()
    r = await sign_in(browser, "u-1001", "/evaluate")
    assert r.headers["location"] == "/evaluate"
    again = (await browser.get("/auth/me")).json()
    assert again["id"] == me["id"] and browser.cookies.get(COOKIE) != first_cookie  # same user, a new session
    oks = [row for row in audit_rows(db, "login.ok") if row.actor_name == "sam.sso"]
    assert [('"created": true' in (row.detail or "")) for row in oks] == [True, False]
    assert all('"via": "oidc"' in (row.detail or "") for row in oks)


async def test_the_default_role_comes_from_the_settings(tmp_path, provider, settings):
    from training_dashboard.api.app import create_app

    app = create_app(settings.model_copy(update={"oidc_default_role": "trainer"}), with_worker=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                     headers=ANONYMOUS) as c:
            set_oidc_claims(provider, "u-trainer", {"preferred_username": "tina"})
            await sign_in(c, "u-trainer")
            assert (await c.get("/auth/me")).json()["role"] == "trainer"
    finally:
        app.state.db.dispose()


async def test_a_pinned_redirect_uri_is_sent_as_is(settings):
    from training_dashboard.api.app import create_app

    pinned = "https://td.example/api/auth/oidc/callback"
    app = create_app(settings.model_copy(update={"oidc_redirect_uri": pinned}), with_worker=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                     headers=ANONYMOUS) as c:
            assert parse_qs(urlsplit(await start(c)).query)["redirect_uri"] == [pinned]
    finally:
        app.state.db.dispose()


async def test_an_existing_passwordless_rater_becomes_that_user(client, browser, provider):
    ann = (await client.post("/raters", json={"name": "Ann"})).json()  # a rater from before sign-in: user "ann"
    set_oidc_claims(provider, "ann-at-idp", {"preferred_username": "ANN", "name": "Ann Other"})
    await sign_in(browser, "ann-at-idp")
    me = (await browser.get("/auth/me")).json()
    assert (me["username"], me["rater_id"], me["display_name"]) == ("ann", ann["id"], "Ann")


async def test_the_provider_subject_not_the_username_names_the_user(browser, provider, db):
    """OpenID Connect's rule: only the issuer and ``sub`` name a person; a username may be renamed or reused."""
    set_oidc_claims(provider, "u-kim", {"preferred_username": "kim"})
    await sign_in(browser, "u-kim")
    kim = (await browser.get("/auth/me")).json()
    with db.session() as session:
        bound = session.scalar(select(UserAccount.sso_subject).where(UserAccount.username == "kim"))
    assert bound == f"{provider}|u-kim"

    # renamed at the provider: still kim's account
    browser.cookies.clear()
    set_oidc_claims(provider, "u-kim", {"preferred_username": "kimberly"})
    await sign_in(browser, "u-kim")
    assert (await browser.get("/auth/me")).json()["id"] == kim["id"]

    # someone else at the provider who takes the name "kim" does not become kim
    browser.cookies.clear()
    set_oidc_claims(provider, "u-impostor", {"preferred_username": "kim"})
    assert login_error(await sign_in(browser, "u-impostor")) == "sso"
    assert (await browser.get("/auth/me")).status_code == 401
    failed = audit_rows(db, "login.failed")[-1]
    assert failed.target == "user:kim" and "another identity" in (failed.detail or "")


async def test_a_user_an_admin_made_without_a_password_is_claimed_once(client, browser, provider, db):
    made = (await client.post("/users", json={"username": "lee", "role": "trainer"})).json()
    set_oidc_claims(provider, "u-lee", {"preferred_username": "lee"})
    await sign_in(browser, "u-lee")
    assert (await browser.get("/auth/me")).json()["id"] == made["id"]
    assert '"bound": true' in (audit_rows(db, "login.ok")[-1].detail or "")

    browser.cookies.clear()
    set_oidc_claims(provider, "u-other", {"preferred_username": "lee"})
    assert login_error(await sign_in(browser, "u-other")) == "sso"


async def test_a_user_with_a_password_is_not_taken_over(browser, provider, db):
    set_oidc_claims(provider, "someone", {"preferred_username": "admin"})  # the test admin signs in with a password
    assert login_error(await sign_in(browser, "someone")) == "sso"
    assert browser.cookies.get(COOKIE) is None
    failed = audit_rows(db, "login.failed")[-1]
    assert failed.target == "user:admin" and "has a password" in (failed.detail or "")


async def test_a_disabled_user_cannot_sign_in(browser, provider, db):
    set_oidc_claims(provider, "u-dis", {"preferred_username": "dora"})
    await sign_in(browser, "u-dis")
    with db.write_session() as session:
        session.execute(update(UserAccount).where(UserAccount.username == "dora").values(disabled=True))
    browser.cookies.clear()
    assert login_error(await sign_in(browser, "u-dis")) == "disabled"
    assert (await browser.get("/auth/me")).status_code == 401
    assert '"reason": "disabled"' in (audit_rows(db, "login.failed")[-1].detail or "")


async def test_a_wrong_or_missing_state_lands_on_login(browser, provider, db):
    callback = await at_provider(await start(browser), "u-state")
    forged = callback.replace("state=", "state=x")
    assert login_error(await browser.get(forged)) == "sso"
    assert "state does not match" in (audit_rows(db, "login.failed")[-1].detail or "")
    # the state cookie is cleared by the failure: the real callback now finds no sign-in in progress
    assert login_error(await browser.get(callback)) == "sso"
    assert "no sign-in in progress" in (audit_rows(db, "login.failed")[-1].detail or "")
    assert (await browser.get("/auth/me")).status_code == 401


async def test_a_forged_state_cookie_is_refused(browser, provider, settings, db):
    callback = await at_provider(await start(browser), "u-forge")
    sealed = browser.cookies.get(oidc_api.STATE_COOKIE, path="/api/auth/oidc")
    body, _, sig = sealed.rpartition(".")
    browser.cookies.set(oidc_api.STATE_COOKIE, f"{body}.{'0' * len(sig)}", path="/api/auth/oidc")
    assert login_error(await browser.get(callback)) == "sso"
    assert "no sign-in in progress" in (audit_rows(db, "login.failed")[-1].detail or "")


async def test_the_id_tokens_nonce_must_be_the_one_sent(browser, provider, settings, db):
    callback = await at_provider(await start(browser), "u-nonce")
    data = oidc_api.unseal(settings, browser.cookies.get(oidc_api.STATE_COOKIE, path="/api/auth/oidc"))
    assert data is not None
    browser.cookies.set(oidc_api.STATE_COOKIE, oidc_api.seal(settings, {**data, "nonce": "another-nonce"}),
                        path="/api/auth/oidc")
    assert login_error(await browser.get(callback)) == "sso"
    assert "nonce" in (audit_rows(db, "login.failed")[-1].detail or "")


async def test_a_code_is_redeemed_once(browser, provider, db):
    set_oidc_claims(provider, "u-once", {"preferred_username": "olly"})
    authorize = await start(browser)
    callback = await at_provider(authorize, "u-once")
    assert (await browser.get(callback)).headers["location"] == "/rate"
    browser.cookies.clear()
    # replaying the code with a fresh state cookie of this browser: the state differs, and the code is spent
    await start(browser)
    assert login_error(await browser.get(callback)) == "sso"


async def test_denied_at_the_provider_lands_on_login(browser, provider, db):
    back = await at_provider(await start(browser), None, deny=True)
    assert "error=access_denied" in back
    assert login_error(await browser.get(back)) == "sso"
    assert "access_denied" in (audit_rows(db, "login.failed")[-1].detail or "")


async def test_next_is_a_local_path_only(browser, provider):
    set_oidc_claims(provider, "u-next", {"preferred_username": "nina"})
    callback = await at_provider(await start(browser, "https://evil.example/x"), "u-next")
    assert (await browser.get(callback)).headers["location"] == "/"
    browser.cookies.clear()
    callback = await at_provider(await start(browser, "//evil.example/x"), "u-next")
    assert (await browser.get(callback)).headers["location"] == "/"


async def test_a_provider_that_is_down_lands_on_login(tmp_path, settings):
    import socket

    from training_dashboard.api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    app = create_app(settings.model_copy(update={"oidc_issuer": f"http://127.0.0.1:{closed}"}), with_worker=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                     headers=ANONYMOUS) as c:
            r = await c.get("/auth/oidc/login", params={"next": "/rate"})
            assert login_error(r) == "sso" and "next=%2Frate" in r.headers["location"]
            assert (await c.get("/auth/oidc/callback", params={"code": "x", "state": "y"})).status_code == 303
    finally:
        app.state.db.dispose()


async def test_login_says_whether_single_sign_on_is_offered(browser, tmp_path):
    from tests.factories import ADMIN_PASSWORD
    from training_dashboard.api.app import create_app

    assert (await browser.get("/auth/setup")).json()["sso"] is True
    plain = create_app(Settings(data_dir=tmp_path / "plain", base_model="tiny", worker=False, admin_user="admin",
                                admin_password=ADMIN_PASSWORD), with_worker=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url="http://test/api",
                                     headers=ANONYMOUS) as c:
            assert (await c.get("/auth/setup")).json()["sso"] is False
            assert login_error(await c.get("/auth/oidc/login")) == "sso"  # not configured: no 500, no 404 page
    finally:
        plain.state.db.dispose()


def test_usernames_follow_the_apps_rules():
    assert normalise_username("José Pérez") == "jose-perez"
    assert normalise_username("  ..Bob@Corp  ") == "bob-corp"
    assert normalise_username("東京") == ""
    assert identity_of({"sub": "1", "preferred_username": "Kim", "name": "Kim K"}).username == "kim"
    assert identity_of({"sub": "1", "email": "lee.x@example.org"}).username == "lee.x"
    assert identity_of({"sub": "1", "email": "lee.x@example.org", "email_verified": True}).username == "lee.x"
    assert identity_of({"sub": "s-9", "email": "admin@example.org", "email_verified": False}).username == "s-9"
    assert identity_of({"sub": "1", "preferred_username": "東京", "email": "東@x"}).username == "1"
    assert identity_of({"sub": "2", "name": "A\x00 B\n"}).display_name == "A B"
    with pytest.raises(SsoFailed):
        identity_of({"sub": "東京"})
    assert identity_of({"iss": "https://idp.example", "sub": "s-9"}).subject == "https://idp.example|s-9"
    for sub in (None, "", "  ", 7, "x" * 256, "a\nb"):
        with pytest.raises(SsoFailed, match="subject"):
            identity_of({"sub": sub, "preferred_username": "kim"})


async def test_id_tokens_are_checked_for_signature_issuer_audience_expiry_and_nonce():
    import time

    from joserfc import jwt
    from joserfc.jwk import KeySet, OctKey, RSAKey

    from training_dashboard.services.oidc import OidcClient

    issuer, key, stranger = "https://idp.example", RSAKey.generate_key(2048, {"kid": "k1"}), RSAKey.generate_key(2048)
    metadata = {"issuer": issuer, "jwks_uri": "https://idp.example/jwks",
                "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"]}
    client = OidcClient(issuer, CLIENT_ID, "secret")
    client._jwks = KeySet([key]).as_dict()  # what the provider's jwks_uri serves
    now = int(time.time())
    good = {"iss": issuer, "sub": "s1", "aud": CLIENT_ID, "exp": now + 300, "iat": now, "nonce": "n1",
            "preferred_username": "pat"}

    def token(claims: dict[str, object], signer=key, alg: str = "RS256") -> str:  # type: ignore[no-untyped-def]
        return jwt.encode({"alg": alg, "kid": "k1"}, claims, signer)

    assert (await client._verified_claims(metadata, token(good), "n1", None))["sub"] == "s1"
    bad = [token({**good, "iss": "https://evil.example"}), token({**good, "aud": "another-client"}),
           token({**good, "exp": now - 3600, "iat": now - 7200}), token(good, signer=stranger),
           token(good, signer=OctKey.import_key("secret" * 8), alg="HS256")]
    for forged in bad:
        with pytest.raises(SsoFailed):
            await client._verified_claims(metadata, forged, "n1", None)
    with pytest.raises(SsoFailed):
        await client._verified_claims(metadata, token(good), "another-nonce", None)
    unsigned = token(good).rsplit(".", 1)[0].split(".", 1)[1]
    with pytest.raises(SsoFailed):  # alg "none"
        await client._verified_claims(metadata, f"eyJhbGciOiJub25lIn0.{unsigned}.", "n1", None)
