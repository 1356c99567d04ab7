"""How the UI's states reach the API: one client factory, one audio-URL helper, one error text."""

from __future__ import annotations

import functools
import os
import ssl
from datetime import datetime

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


def api_client() -> ApiClient:
    """A client for one handler run: ``async with api_client() as api: ...``."""
    transport = httpx.AsyncHTTPTransport(verify=_tls_context())
    return ApiClient(api_base_url(), token=get_settings().api_token, timeout=60.0, transport=transport)


def browser_backend_url() -> str:
    """The backend's address as the browser sees it (Reflex's ``api_url``)."""
    from reflex.config import get_config

    return get_config().api_url.rstrip("/")


def audio_src(stream_url: str) -> str:
    """The URL an ``<audio>`` element plays: the API's stream path made absolute for the browser.

    The only place that turns a stream path into a browser URL, so signed URLs (token mode)
    change here alone.
    """
    if stream_url.startswith(("http://", "https://")):
        return stream_url
    return browser_backend_url() + "/" + stream_url.lstrip("/")


def error_text(exc: BaseException) -> str:
    """What a user reads when a call fails."""
    if isinstance(exc, ApiError):
        return exc.message if exc.status else f"API unreachable: {exc.message}"
    return f"Unexpected error: {type(exc).__name__}: {exc}"


def short_date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def parse_tags(text: str) -> list[str]:
    """``"Warm, lo-fi ,warm"`` -> ``["lo-fi", "warm"]`` (the API lower-cases and dedupes too)."""
    return sorted({part.strip().lower() for part in text.replace(";", ",").split(",") if part.strip()})
