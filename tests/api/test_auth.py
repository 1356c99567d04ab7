"""Sign-in: login, logout, me, the session cookie, expiry, the CSRF origin check, the guessing limit,
the one-time setup link, and TD_AUTH=off behaving as before."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.factories import ADMIN_PASSWORD, ANONYMOUS, make_clips
from training_dashboard.api.app import create_app
from training_dashboard.config import Settings
from training_dashboard.db.models import AuthSession, UserAccount, utcnow

ORIGIN = {"Origin": "http://test"}
PASSWORD = "rita-password-123"


@pytest.fixture
async def visitor(app):  # type: ignore[no-untyped-def]
    """A client with no credentials of its own: it keeps the cookies it is given, like a visitor."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                 headers=ANONYMOUS) as c:
        yield c


async def login(c: httpx.AsyncClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Response:
    return await c.post("/auth/login", json={"username": username, "password": password})


async def test_login_me_logout(visitor):
    assert (await visitor.get("/auth/me")).status_code == 401
    r = await login(visitor)
    assert r.status_code == 200 and r.json()["username"] == "admin" and r.json()["role"] == "admin"
    assert "password_hash" not in r.text and ADMIN_PASSWORD not in r.text
    me = (await visitor.get("/auth/me")).json()
    assert (me["username"], me["role"], me["auth"]) == ("admin", "admin", "on") and me["rater_id"] >= 1
    assert (await visitor.post("/auth/logout", headers=ORIGIN)).status_code == 204
    assert (await visitor.get("/auth/me")).status_code == 401


async def test_the_session_cookie_is_httponly_lax_and_new_at_every_sign_in(visitor):
    r = await login(visitor)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("td_session=") and "HttpOnly" in cookie and "Path=/" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie
    first = r.cookies["td_session"]
    assert len(first) >= 43  # 32 random bytes
    second = (await login(visitor)).cookies["td_session"]
    assert second != first
    r = await visitor.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                           headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in r.headers["set-cookie"]


async def test_logout_ends_the_session_everywhere(app, visitor):
    secret = (await login(visitor)).cookies["td_session"]
    other_tab = {"Cookie": f"td_session={secret}"}
    assert (await visitor.get("/auth/me", headers=other_tab)).status_code == 200
    assert (await visitor.post("/auth/logout", headers=ORIGIN)).status_code == 204
    assert (await visitor.get("/auth/me", headers=other_tab)).status_code == 401
    with app.state.db.session() as session:
        assert session.scalar(select(AuthSession.id)) is None  # forgotten server-side


async def test_sessions_expire_when_idle_and_absolutely(app, db, visitor):
    await login(visitor)
    assert (await visitor.get("/auth/me")).status_code == 200
    with db.write_session() as session:  # seen 11 h ago: still fine, and now touched
        session.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(hours=11)))
    assert (await visitor.get("/auth/me")).status_code == 200
    with db.session() as session:
        assert utcnow() - session.scalar(select(AuthSession.last_seen_at)) < timedelta(minutes=1)
    with db.write_session() as session:  # idle past TD_SESSION_IDLE_HOURS (12)
        session.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(hours=12, minutes=1)))
    assert (await visitor.get("/auth/me")).status_code == 401
    await login(visitor)
    with db.write_session() as session:  # past TD_SESSION_MAX_DAYS, though just used
        session.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await visitor.get("/auth/me")).status_code == 401


async def test_last_seen_is_written_at_most_once_a_minute(db, visitor):
    await login(visitor)
    with db.session() as session:
        before = session.scalar(select(AuthSession.last_seen_at))
    for _ in range(5):
        assert (await visitor.get("/auth/me")).status_code == 200
    with db.session() as session:
        assert session.scalar(select(AuthSession.last_seen_at)) == before


async def test_disabling_and_role_changes_hold_on_the_next_request(client, visitor, db):
    user = (await client.post("/users", json={"username": "rita", "password": PASSWORD})).json()
    await login(visitor, "rita", PASSWORD)
    assert (await visitor.get("/datasets")).status_code == 403
    assert (await client.patch(f"/users/{user['id']}", json={"role": "trainer"})).status_code == 200
    assert (await visitor.get("/datasets")).status_code == 200
    assert (await client.patch(f"/users/{user['id']}", json={"disabled": True})).status_code == 200
    assert (await visitor.get("/auth/me")).status_code == 401
    assert (await login(visitor, "rita", PASSWORD)).status_code == 401


async def test_cookie_writes_need_the_apps_own_origin(visitor, admin_token):
    await login(visitor)
    body = {"text": "csrf"}
    assert (await visitor.post("/prompts", json=body)).status_code == 403
    assert (await visitor.post("/prompts", json=body, headers={"Origin": "http://evil.example"})).status_code == 403
    assert (await visitor.post("/prompts", json=body, headers={"Origin": "null"})).status_code == 403
    assert (await visitor.post("/prompts", json=body, headers={"Referer": "http://evil.example/x"})).status_code == 403
    assert (await visitor.post("/prompts", json=body, headers=ORIGIN)).status_code == 201
    assert (await visitor.post("/prompts", json=body, headers={"Referer": "http://test/studio"})).status_code == 201
    assert (await visitor.get("/prompts")).status_code == 200  # reads need no Origin
    # a bearer token is not sent by browsers on their own: no Origin needed
    bearer = {"Authorization": f"Bearer {admin_token}", "Cookie": ""}
    assert (await visitor.post("/prompts", json=body, headers=bearer)).status_code == 201


async def test_guesses_sent_at_once_get_no_more_tries_than_the_limit(client, visitor, db):
    """16 wrong passwords at the same moment: 5 are checked (401), the rest wait out the lock (429), and so
    does the right password after them. Each check takes ~0.1 s of Argon2: counting only the failures
    already written let every racing guess through."""
    import asyncio

    from training_dashboard.db.models import AuditEvent, LoginAttempt

    await client.post("/users", json={"username": "rosa", "password": PASSWORD})
    answers = await asyncio.gather(*(login(visitor, "rosa", f"guess-number-{i}") for i in range(16)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * 5 + [429] * 11, codes
    right = await login(visitor, "rosa", PASSWORD)
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 60  # the 15-minute lock
    with db.session() as session:
        failed = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "login.failed",
                                                                 AuditEvent.target == "user:rosa")).all()
        assert len(failed) == 5
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0  # each attempt cleared


async def test_right_passwords_sent_at_once_wait_a_moment_not_a_lock(client, visitor, db):
    """Attempts being checked count against the limit only while they are checked: a burst of right
    passwords (a script, a shared office address) beyond it is told to retry in a second."""
    import asyncio

    await client.post("/users", json={"username": "sol", "password": PASSWORD})
    answers = await asyncio.gather(*(login(visitor, "sol", PASSWORD) for _ in range(12)))
    assert all(r.status_code == 200 or (r.status_code == 429 and r.headers["retry-after"] == "1") for r in answers), \
        [(r.status_code, r.headers.get("retry-after")) for r in answers]
    assert sum(r.status_code == 200 for r in answers) >= 5
    assert (await login(visitor, "sol", PASSWORD)).status_code == 200  # nothing left counting against sol
    form = {"username": "sol", "password": PASSWORD, "next": "/rate"}
    posts = await asyncio.gather(*(visitor.post("/auth/login/form", data=form) for _ in range(12)))
    places = {r.headers["location"] for r in posts}
    assert "/rate" in places and places <= {"/rate", "/login?error=busy&retry_after=1&next=%2Frate"}, places


async def test_configured_origins_pass_the_check(app, settings):
    configured = create_app(settings.model_copy(update={"cors_origins": ["http://ui.example:3000"]}),
                            with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=configured), base_url="http://test/api",
                                 headers=ANONYMOUS) as c:
        await login(c)
        r = await c.post("/prompts", json={"text": "x"}, headers={"Origin": "http://ui.example:3000"})
        assert r.status_code == 201
    configured.state.db.dispose()


async def test_wrong_passwords_lock_the_account_for_15_minutes(client, visitor, db):
    await client.post("/users", json={"username": "rita", "password": PASSWORD})
    unknown = await login(visitor, "nobody", "whatever-password")
    wrong = await login(visitor, "rita", "wrong-password-1")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()  # no hint whether the username exists
    for _ in range(4):
        assert (await login(visitor, "rita", "wrong-password-1")).status_code == 401
    r = await login(visitor, "rita", PASSWORD)  # the right one, after 5 wrong
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 900
    assert (await login(visitor)).status_code == 200  # another account is not locked
    events = (await client.get("/audit", params={"action": "login."})).json()["items"]
    actions = [e["action"] for e in events]
    assert actions.count("login.failed") == 6 and "login.locked" in actions
    assert all(e["client_addr"] == "127.0.0.1" for e in events)
    from training_dashboard.db.models import AuditEvent

    with db.write_session() as session:  # the window passes
        session.execute(update(AuditEvent).where(AuditEvent.action == "login.failed")
                        .values(at=utcnow() - timedelta(minutes=16)))
    assert (await login(visitor, "rita", PASSWORD)).status_code == 200


async def test_twenty_failures_from_one_address_lock_it(visitor):
    for i in range(20):
        assert (await login(visitor, f"guess{i}", "wrong-password-1")).status_code == 401
    assert (await login(visitor)).status_code == 429


async def test_the_login_form_redirects_to_a_local_path(visitor):
    form = {"username": "admin", "password": ADMIN_PASSWORD, "next": "/training?tab=runs"}
    r = await visitor.post("/auth/login/form", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/training?tab=runs"
    assert "HttpOnly" in r.headers["set-cookie"]
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        r = await visitor.post("/auth/login/form", data={**form, "next": evil})
        assert r.headers["location"] == "/", evil
    r = await visitor.post("/auth/login/form", data={**form, "password": "wrong-password-9"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login?error=invalid&next=")
    assert "set-cookie" not in r.headers
    r = await visitor.post("/auth/login/form", data={"username": "", "password": ""})
    assert r.headers["location"].startswith("/login?error=missing")


async def test_the_logout_form_redirects_to_login(visitor):
    await login(visitor)
    r = await visitor.post("/auth/logout", data={"next": "/"}, headers=ORIGIN)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "td_session=" in r.headers["set-cookie"]
    assert (await visitor.get("/auth/me")).status_code == 401


async def test_the_setup_link_creates_the_first_admin_once(tmp_path, capsys):
    app = create_app(Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False), with_worker=False)
    link = re.search(r"Open (http://127\.0\.0\.1:\d+/setup\?token=(\S+))", capsys.readouterr().err)
    assert link, "the setup link is printed"
    token = link.group(2)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                     headers=ANONYMOUS) as c:
            assert (await c.get("/prompts")).status_code == 401  # no admin yet: nothing is open
            status = (await c.get("/auth/setup", params={"token": token})).json()
            assert (status["needed"], status["token_valid"]) == (True, True)
            assert (await c.get("/auth/setup", params={"token": "forged"})).json()["token_valid"] is False
            form = {"token": token, "username": "Boss", "password": "short"}
            r = await c.post("/auth/setup/form", data=form)
            assert r.headers["location"].startswith("/setup?") and "error=password" in r.headers["location"]
            r = await c.post("/auth/setup/form", data={**form, "password": "a-long-enough-password"})
            assert r.status_code == 303 and r.headers["location"] == "/"
            me = (await c.get("/auth/me")).json()  # signed in as the new admin
            assert (me["username"], me["role"]) == ("boss", "admin")
            c.cookies.clear()
            r = await c.post("/auth/setup/form", data={**form, "username": "again", "password": "another-password-1"})
            assert "error=" in r.headers["location"]
            assert (await c.get("/auth/setup")).json()["needed"] is False
            assert (await c.post("/auth/login", json={"username": "again",
                                                      "password": "another-password-1"})).status_code == 401
    finally:
        app.state.db.dispose()


async def test_the_setup_link_expires_after_30_minutes(tmp_path, capsys):
    from training_dashboard.db.models import SetupLink

    app = create_app(Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False), with_worker=False)
    token = re.search(r"setup\?token=(\S+)", capsys.readouterr().err).group(1)  # type: ignore[union-attr]
    with app.state.db.write_session() as session:
        session.execute(update(SetupLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                 headers=ANONYMOUS) as c:
        r = await c.post("/auth/setup", json={"token": token, "username": "late", "password": "a-long-enough-pw"})
        assert r.status_code == 400
    app.state.db.dispose()


async def test_admin_user_from_the_environment_is_created_and_refreshed(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False, admin_user="Root",
                        admin_password="first-password-1")
    create_app(settings, with_worker=False).state.db.dispose()
    app = create_app(settings.model_copy(update={"admin_password": "second-password-2"}), with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                 headers=ANONYMOUS) as c:
        assert (await login(c, "root", "first-password-1")).status_code == 401
        assert (await login(c, "root", "second-password-2")).status_code == 200
    app.state.db.dispose()


async def test_off_mode_acts_as_the_local_admin_and_honours_rater_ids(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False, auth="off")
    app = create_app(settings, with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api") as c:
        me = (await c.get("/auth/me")).json()
        assert (me["username"], me["role"], me["auth"]) == ("local", "admin", "off")
        ann = (await c.post("/raters", json={"name": "Ann"})).json()["id"]
        bob = (await c.post("/raters", json={"name": "Bob"})).json()["id"]
        pid = (await c.post("/prompts", json={"text": "open"})).json()["id"]
        ids = make_clips(app.state.db, settings, pid, n=2)
        for rater_id, audio_id in ((ann, ids[0]), (bob, ids[1])):
            r = await c.post("/feedback", json={"audio_id": audio_id, "rating": 4, "rater_id": rater_id})
            assert r.status_code == 201 and r.json()["rater_id"] == rater_id
        assert (await c.get("/queue/summary")).status_code == 422  # who is listening? still asked
        assert (await c.get("/queue/summary", params={"rater_id": ann})).json()["rater_id"] == ann
        stream = (await c.get(f"/prompts/{pid}")).json()["samples"][0]["stream_url"]
        assert "sig=" not in stream
    app.state.db.dispose()


def test_single_sign_on_finds_or_creates_the_user(db, settings):
    from training_dashboard.services import credentials
    from training_dashboard.services.errors import Unauthorized

    policy = credentials.SessionPolicy.of(settings.session_idle_hours, settings.session_max_days)
    idp = "https://idp.example|"
    user, secret = credentials.sign_in_external(db, idp + "s1", "Sso.User", "SSO User", "rater", policy, "10.0.0.1",
                                                "oidc")
    assert (user.username, user.role, user.password_hash) == ("sso.user", "rater", None) and secret
    assert user.sso_subject == idp + "s1"
    again, _ = credentials.sign_in_external(db, idp + "s1", "renamed", None, "admin", policy, None, "oidc")
    assert (again.id, again.role, again.username) == (user.id, "rater", "sso.user")  # the subject finds them
    with pytest.raises(Unauthorized, match="another single sign-on account"):
        credentials.sign_in_external(db, idp + "s2", "sso.user", None, "rater", policy, None, "oidc")
    principal, _ = credentials.session_principal(db, secret, policy)
    assert principal is not None and principal.username == "sso.user"
    with db.write_session() as session:
        session.execute(update(UserAccount).where(UserAccount.id == user.id).values(disabled=True))
    with pytest.raises(Unauthorized):
        credentials.sign_in_external(db, idp + "s1", "sso.user", None, "rater", policy, None, "oidc")


def test_racing_first_single_sign_ons_of_one_person_make_one_user(db, settings):
    from concurrent.futures import ThreadPoolExecutor

    from training_dashboard.services import credentials

    policy = credentials.SessionPolicy.of(settings.session_idle_hours, settings.session_max_days)
    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda _: credentials.sign_in_external(
            db, "https://idp.example|race", "racer", None, "rater", policy, None, "oidc")[0].id, range(8)))
    assert len(set(users)) == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(UserAccount).where(
            UserAccount.sso_subject == "https://idp.example|race")) == 1
