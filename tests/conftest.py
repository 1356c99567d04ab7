"""Shared fixtures: a real temporary database, the real API in-process, the real client.

Sign-in is on, as in production: the settings name a first admin (TD_ADMIN_USER / TD_ADMIN_PASSWORD),
and every in-process request carries real credentials (tests/factories.SignedIn): the ``client`` and
``api`` fixtures an admin's personal access token, a request naming a rater that rater's token.
``rater``, ``trainer`` and ``admin`` give a user of each role with their own token.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import httpx  # noqa: E402
import pytest  # noqa: E402

from tests.factories import ADMIN_PASSWORD, ADMIN_USER, SignedIn, authorize_for_server, make_token, make_user  # noqa: E402
from training_dashboard.api.app import create_app  # noqa: E402
from training_dashboard.client import ApiClient  # noqa: E402
from training_dashboard.config import Settings  # noqa: E402
from training_dashboard.db import Database  # noqa: E402


@pytest.fixture(autouse=True)
def _api_token_stays_in_its_test() -> Iterator[None]:
    """The benches are programs: they keep the personal token they mint in their own environment
    (``TD_API_TOKEN``, which the CLI and ``bench.load`` read). tests/bench runs them in this
    process, so the token must not outlive the test: the training CLI of a later test would send it
    to that test's API (401, "not signed in")."""
    before = os.environ.get("TD_API_TOKEN")
    yield
    if before is None:
        os.environ.pop("TD_API_TOKEN", None)
    else:
        os.environ["TD_API_TOKEN"] = before


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = os.environ.get("TD_TEST_DATABASE_URL")
    if url:  # PostgreSQL run: one fresh schema per test
        url = _fresh_pg_database(url, tmp_path.name)
    return Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False, database_url=url,
                    readiness_threshold=5, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(settings, with_worker=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def db(app) -> Database:  # type: ignore[no-untyped-def]
    return app.state.db


def signed_in(app) -> SignedIn | None:  # type: ignore[no-untyped-def]
    """The app's test credentials (made once per app; without TD_ADMIN_USER a passwordless test admin), or
    None with sign-in off."""
    state = getattr(app, "state", None)
    settings = getattr(state, "settings", None)
    if not isinstance(settings, Settings) or not settings.auth_on:
        return None
    if getattr(state, "test_signin", None) is None:
        state.test_signin = SignedIn(state.db, settings.admin_user)
    return state.test_signin


@pytest.fixture(autouse=True)
def _in_process_requests_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process request (``httpx.ASGITransport``, also the UI states' own clients) carries real
    credentials: see ``SignedIn``. Requests with credentials of their own pass untouched."""
    original = httpx.ASGITransport.handle_async_request

    async def handle(self: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
        credentials = signed_in(self.app)
        if credentials is not None:
            credentials.authorize(request)
        return await original(self, request)

    monkeypatch.setattr(httpx.ASGITransport, "handle_async_request", handle)

    # And requests to a test's own API server process (tests/hardening/server.ApiServer).
    sync_original = httpx.HTTPTransport.handle_request
    async_original = httpx.AsyncHTTPTransport.handle_async_request

    def handle_sync(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        authorize_for_server(request)
        return sync_original(self, request)

    async def handle_async(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        authorize_for_server(request)
        return await async_original(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_sync)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle_async)


@pytest.fixture
def admin_token(app) -> str:  # type: ignore[no-untyped-def]
    credentials = signed_in(app)
    assert credentials is not None
    return credentials.admin


@pytest.fixture
async def client(app, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                 headers={"Authorization": f"Bearer {admin_token}"}) as c:
        yield c


@pytest.fixture
async def api(app, admin_token: str) -> AsyncIterator[ApiClient]:  # type: ignore[no-untyped-def]
    async with ApiClient("http://test/api", token=admin_token, transport=httpx.ASGITransport(app=app)) as c:
        yield c


@dataclass
class UserWithToken:
    id: int
    username: str
    rater_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_test_user(db: Database, username: str, role: str, password: str | None = None) -> UserWithToken:
    from training_dashboard.db.models import UserAccount

    user_id = make_user(db, username, role, password)
    with db.session() as session:
        rater_id = session.get(UserAccount, user_id).rater_id  # type: ignore[union-attr]
    return UserWithToken(user_id, username, rater_id, make_token(db, user_id, f"{username}-token"))


@pytest.fixture
def rater(db: Database) -> UserWithToken:
    return make_test_user(db, "rita", "rater")


@pytest.fixture
def trainer(db: Database) -> UserWithToken:
    return make_test_user(db, "tom", "trainer")


@pytest.fixture
def admin(db: Database) -> UserWithToken:
    return make_test_user(db, "ada", "admin")


def _fresh_pg_database(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    dbname = "td_" + "".join(ch for ch in name.lower() if ch.isalnum())[:50]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}"'))
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``TD_TEST_REDIS_URL`` (scripts/with_redis.sh), else a redis-server of our own on a free port.

    Database 0 holds the browser suite's Reflex state; the broker tests take databases 1–15.
    """
    url = os.environ.get("TD_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed: run the tests through ./scripts/test.sh (it installs it)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(work), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, which would break every asyncio test collected after it.

    Of those, the modules that start an app of their own (``own_app``) run after every test of
    the suite's shared app: ``reflex run --env prod`` bakes its port into the frontend build it
    writes to ``.web``, which all apps started from this checkout share, so once another app has
    built, the shared app's pages would talk to that other (by then stopped) port.

    Modules marked ``shared_app_last`` (they add users, raters and ratings to the shared app) run
    after the shared app's other modules, which count from an empty app.
    """
    items.sort(key=lambda item: (item.get_closest_marker("e2e") is not None,
                                 item.get_closest_marker("own_app") is not None,
                                 item.get_closest_marker("shared_app_last") is not None))
