"""The UI's side of sign-in: the session cookie read from the socket's headers, where /login returns
to, which loaders a page runs for a role, and a 401 ending the handler for the redirect to /login."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from reflex.istate.data import HeaderData, ReflexURL

from tests.ui.conftest import run
from training_dashboard.client import ApiError
from training_dashboard.state import api as api_state
from training_dashboard.state.account import expiry_days, token_status
from training_dashboard.state.api import SignedOut, error_text, session_of
from training_dashboard.state.audit import day_bounds
from training_dashboard.state.auth import (
    GO_TO_LOGIN_JS,
    AuthState,
    guard,
    handle_backend_exception,
    login_url,
    page_loads,
    role_at_least,
    safe_next,
)
from training_dashboard.state.datasets import cli_command
from training_dashboard.state.login import login_error
from training_dashboard.state.rate import RateState


def _with_cookie(state, cookie: str):  # type: ignore[no-untyped-def]
    state.router = dataclasses.replace(state.router, headers=HeaderData(cookie=cookie))
    return state


async def test_the_session_comes_from_the_sockets_cookie_header(root) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(AuthState)
    assert session_of(state) is None
    assert session_of(_with_cookie(state, "theme=dark; td_session=abc.DEF-123; other=1")) == "abc.DEF-123"
    assert session_of(_with_cookie(state, "td_session=")) is None
    assert session_of(_with_cookie(state, 'bad"cookie')) is None
    assert session_of(None) is None


async def test_the_client_acts_as_the_tab_and_never_as_the_token_with_sign_in_on(  # type: ignore[no-untyped-def]
        root, monkeypatch: pytest.MonkeyPatch) -> None:
    state = _with_cookie(await root.get_state(AuthState), "td_session=s3cret")
    settings = api_state.get_settings().model_copy(update={"auth": "on", "api_token": "td_server_token"})
    monkeypatch.setattr(api_state, "get_settings", lambda: settings)
    async with api_state.api_client(state) as api:
        assert "td_session=s3cret" in api._http.headers.get("cookie", "")
        assert "authorization" not in api._http.headers
    async with api_state.api_client(_with_cookie(state, "")) as api:  # signed out: nothing to act as
        assert "authorization" not in api._http.headers and "cookie" not in api._http.headers
    off = settings.model_copy(update={"auth": "off"})
    monkeypatch.setattr(api_state, "get_settings", lambda: off)
    async with api_state.api_client(_with_cookie(state, "")) as api:  # scripts and TD_AUTH=off keep the token
        assert api._http.headers["authorization"] == "Bearer td_server_token"


def test_next_stays_on_this_site() -> None:
    assert safe_next("/training?tab=runs") == "/training?tab=runs"
    for bad in (None, "", "training", "//evil.example/x", "/\\evil.example", "https://evil.example", "/login",
                "/login?next=/x", "/setup?token=1", "/x\nSet-Cookie: a=b"):
        assert safe_next(bad) == "/", bad
    assert login_url("/training", "tab=adapters") == "/login?next=%2Ftraining%3Ftab%3Dadapters"
    assert login_url("/", "") == "/login" and login_url("/rate/") == "/login?next=%2Frate"
    assert login_url("/login", "next=%2F") == "/login"


def test_roles_include_the_ones_below() -> None:
    assert role_at_least("admin", "trainer") and role_at_least("trainer", "rater") and role_at_least("rater", "rater")
    assert not role_at_least("rater", "trainer") and not role_at_least("", "rater")
    assert not role_at_least("superuser", "rater")


def test_a_guarded_page_runs_its_loaders_only_for_the_roles_that_may() -> None:
    assert guard("/test-guard/[item]", RateState.load_page, ("admin", RateState.skip), role="trainer") == [
        AuthState.check]
    assert page_loads("/test-guard/12", "rater") == []
    assert page_loads("/test-guard/12", "trainer") == [RateState.load_page]
    assert page_loads("/test-guard/12/", "admin") == [RateState.load_page, RateState.skip]
    assert page_loads("/test-guard", "admin") == [] and page_loads("/test-guard/1/x", "admin") == []


async def test_check_redirects_a_signed_out_tab_to_login_with_the_way_back(  # type: ignore[no-untyped-def]
        root, transport, monkeypatch: pytest.MonkeyPatch) -> None:
    from training_dashboard.client import ApiClient
    from training_dashboard.state import auth as auth_state

    async def refuse(self):  # type: ignore[no-untyped-def]
        raise ApiError(401, "Sign in first")

    monkeypatch.setattr(auth_state, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    monkeypatch.setattr(ApiClient, "me", refuse, raising=False)
    state = await root.get_state(AuthState)
    state.username, state.role = "old", "admin"
    state.router = dataclasses.replace(state.router, url=ReflexURL("http://x/training?tab=runs"))
    events = await run(AuthState.check, state)
    assert state.username == "" and state.role == "" and not state.is_admin
    assert len(events) == 1 and "/login?next=%2Ftraining%3Ftab%3Druns" in str(events[0])


def test_a_401_ends_the_handler_and_sends_the_browser_to_login() -> None:
    with pytest.raises(SignedOut):
        error_text(ApiError(401, "Session ended"))
    assert error_text(ApiError(403, "needs the trainer role")) == "needs the trainer role"
    assert error_text(ApiError(0, "refused")) == "API unreachable: refused"
    spec = handle_backend_exception(SignedOut("gone"))
    assert spec is not None and "encodeURIComponent" in str(spec)
    assert "p.startsWith('/login')" in GO_TO_LOGIN_JS  # never /login?next=/login...
    assert handle_backend_exception(RuntimeError("boom")) is not None  # Reflex's own toast


def test_login_errors_say_what_happened_without_naming_accounts() -> None:
    assert login_error("") == ""
    assert login_error("invalid") == "Wrong username or password."
    assert login_error("locked", "600") == "Too many failed sign-ins. Try again in 10 minutes."
    assert login_error("locked", "x") == "Too many failed sign-ins. Try again later."
    assert login_error("busy", "1") == "Too many sign-ins at once. Try again in a moment."
    assert login_error("<script>") == "Sign-in failed. Try again."


def test_the_export_command_says_which_token_to_set() -> None:
    command = "python -m training_dashboard.training sft --data /x --name y"
    assert cli_command(command, auth_on=False) == command
    with_note = cli_command(command, auth_on=True)
    assert with_note.endswith(command) and "TD_API_TOKEN" in with_note and "personal access" in with_note
    assert all(line.startswith("#") for line in with_note.splitlines()[:-1])  # pasting it runs only the command


def test_tokens_and_audit_filters() -> None:
    assert expiry_days("30") == 30 and expiry_days("never") is None and expiry_days("junk") == 90
    since, until = day_bounds("2026-12-01", "2026-12-02")
    assert since == datetime(2026, 12, 1, tzinfo=UTC) and until == datetime(2026, 12, 3, tzinfo=UTC)
    assert day_bounds("", "not a date") == (None, None)

    @dataclasses.dataclass
    class Token:
        revoked_at: datetime | None = None
        expires_at: datetime | None = None

    now = datetime(2026, 12, 6, tzinfo=UTC)
    assert token_status(Token(), now) == "active"  # type: ignore[arg-type]
    assert token_status(Token(expires_at=now - timedelta(seconds=1)), now) == "expired"  # type: ignore[arg-type]
    assert token_status(Token(revoked_at=now, expires_at=now + timedelta(days=1)), now) == "revoked"  # type: ignore[arg-type]
