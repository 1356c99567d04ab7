"""How the UI's states reach the API: one client factory, one audio-URL helper, one error text."""

from __future__ import annotations

import functools
import os
import ssl
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

import httpx

from training_dashboard.client import ApiClient, ApiError
from training_dashboard.config import get_settings


def api_base_url() -> str:
    """The API the state handlers call (server side).

    ``TD_API_URL`` wins; otherwise the API mounted in this very backend, on the port Reflex
    was started with (``reflex run --backend-port`` sets ``REFLEX_BACKEND_PORT``).
    """
    if os.environ.get("TD_API_URL"):
        return get_settings().api_url
    port = os.environ.get("REFLEX_BACKEND_PORT")
    return f"http://127.0.0.1:{port}/api" if port else get_settings().api_url


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx builds a TLS context (loading the whole CA bundle) for every new client: ~50 ms of CPU
    on the backend's event loop, per handler run, even for plain http. Build it once per process."""
    return httpx.create_ssl_context()


SESSION_COOKIE = "td_session"


class SignedOut(Exception):
    """The API answered 401: the session behind this tab ended (signed out, expired, disabled).

    Raised by :func:`error_text`, so a handler that meets it ends there; the app's backend exception
    handler (``state/auth.py``) then sends the browser to /login.
    """


def session_of(state: Any) -> str | None:
    """The sign-in session cookie the browser sent with this tab's websocket handshake.

    Reflex keeps the handshake's headers on the server (``router.headers.cookie``) and never sends
    cookies to the page; the cookie itself is HttpOnly, so page scripts cannot read it either.
    """
    raw = state.router.headers.cookie if state is not None else ""
    if not raw:
        return None
    try:
        morsel = SimpleCookie(raw).get(SESSION_COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel is not None and morsel.value else None


def api_client(state: Any = None) -> ApiClient:
    """A client for one handler run, acting as the person signed in on that tab:
    ``async with api_client(self) as api: ...``.

    With sign-in off (``TD_AUTH=off``) the API treats every request as the local admin, and
    ``TD_API_TOKEN`` is still sent for a UI pointed at another API. With sign-in on nothing but the
    tab's session is sent: a signed-out tab must not act as the token's owner.
    """
    settings = get_settings()
    session = session_of(state)
    token = settings.api_token if settings.auth == "off" and not session else None
    transport = httpx.AsyncHTTPTransport(verify=_tls_context())
    return ApiClient(api_base_url(), token=token, session=session, timeout=60.0, transport=transport)


def browser_backend_url() -> str:
    """The backend's address as the browser sees it (Reflex's ``api_url``)."""
    from reflex.config import get_config

    return get_config().api_url.rstrip("/")


def api_path(path: str) -> str:
    """Where the browser goes for ``path`` of the API by itself (a form post, a sign-on link).
    Production serves the UI and the API on one port: the path as it is. ``reflex run`` in dev mode
    serves the UI on a port of its own (3000) with no /api: the backend's address, whose host the
    websocket uses too, so a session cookie the answer sets reaches it (cookies ignore ports); the
    API sends the browser back to the UI's origin (``api.auth.return_origin``)."""
    from reflex.utils.exec import is_prod_mode

    return path if is_prod_mode() else browser_backend_url() + path


def audio_src(stream_url: str) -> str:
    """The URL an ``<audio>`` element plays: the API's stream path made absolute for the browser.

    The only place that turns a stream path into a browser URL, so signed URLs (token mode)
    change here alone.
    """
    if stream_url.startswith(("http://", "https://")):
        return stream_url
    return browser_backend_url() + "/" + stream_url.lstrip("/")


def error_text(exc: BaseException) -> str:
    """What a user reads when a call fails.

    Raises:
        SignedOut: The call failed with 401. There is nothing to read: every handler's error path
            passes through here, so this one place ends the handler and the app sends the browser
            to /login (``state.auth.handle_backend_exception``).
    """
    if isinstance(exc, SignedOut):
        raise exc
    if isinstance(exc, ApiError) and exc.status == 401:
        raise SignedOut(exc.message) from exc
    if isinstance(exc, ApiError):
        return exc.message if exc.status else f"API unreachable: {exc.message}"
    return f"Unexpected error: {type(exc).__name__}: {exc}"


def short_date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def parse_tags(text: str) -> list[str]:
    """``"Warm, lo-fi ,warm"`` -> ``["lo-fi", "warm"]`` (the API lower-cases and dedupes too)."""
    return sorted({part.strip().lower() for part in text.replace(";", ",").split(",") if part.strip()})
