"""Access control: who a request acts as, the CSRF origin check, and signed audio URLs.

``Authenticate`` (pure ASGI: no task or stream wrapping per request, unlike Starlette's
``BaseHTTPMiddleware``) resolves the principal of every /api request from the ``td_session``
cookie or ``Authorization: Bearer td_...`` (a personal access token), one indexed read each,
and puts it in ``scope["state"]["principal"]``; the routers' role dependencies read it there.
Without valid credentials only the public routes answer (liveness, sign-in, setup, the
OpenAPI document, signed stream URLs); ``/api/worker/*`` is left to its own worker token.

The browser never holds a token for ``<audio>``: stream URLs carry an expiring HMAC signature
(keyed by ``TD_SECRET_KEY``) that grants that one clip (or evaluation slot) only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from urllib.parse import parse_qs, urlsplit

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.schemas import parse_int
from training_dashboard.services import credentials
from training_dashboard.services.principal import Principal

PREFIX = "/api"
COOKIE = "td_session"
STREAM_TTL_S = 24 * 3600
_STREAM_PATH = re.compile(rf"^{PREFIX}/audio/(\d+)/stream$")
_EVAL_STREAM_PATH = re.compile(rf"^{PREFIX}/evaluations/\d+/pairs/\d+/(first|second)/stream$")
_PUBLIC_EXACT = {
    ("GET", f"{PREFIX}/health"), ("HEAD", f"{PREFIX}/health"),
    ("POST", f"{PREFIX}/auth/login"), ("POST", f"{PREFIX}/auth/login/form"), ("POST", f"{PREFIX}/auth/logout"),
    ("GET", f"{PREFIX}/openapi.json"), ("GET", f"{PREFIX}/docs"), ("GET", f"{PREFIX}/docs/oauth2-redirect"),
}
_PUBLIC_PREFIXES = (f"{PREFIX}/auth/setup/", f"{PREFIX}/auth/oidc/")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LOCAL_ADMIN = Principal(user_id=0, username="local", display_name="Local admin", role="admin", rater_id=0, via="off")


class AudioSigner:
    """Builds stream URLs; signed (``?exp=&sig=``) when it has a key (sign-in on)."""

    def __init__(self, secret: str | bytes | None) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = hashlib.sha256(b"td-audio:" + raw).digest() if raw else None

    def _sig(self, audio_id: int, exp: int) -> str:
        assert self._key is not None
        return hmac.new(self._key, f"{audio_id}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, audio_id: int) -> str:
        path = f"{PREFIX}/audio/{audio_id}/stream"
        if self._key is None:
            return path
        exp = (int(time.time()) // 3600 + 1) * 3600 + STREAM_TTL_S  # hour-aligned: stable for caching
        return f"{path}?exp={exp}&sig={self._sig(audio_id, exp)}"

    def path_url(self, target: str) -> str:
        """A URL for ``target`` (path and query), signed like :meth:`url` when a key is set."""
        if self._key is None:
            return target
        exp = (int(time.time()) // 3600 + 1) * 3600 + STREAM_TTL_S
        sep = "&" if "?" in target else "?"
        return f"{target}{sep}exp={exp}&sig={self._path_sig(target, exp)}"

    def _path_sig(self, target: str, exp: int) -> str:
        assert self._key is not None
        return hmac.new(self._key, f"path:{target}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def valid_path(self, target: str, exp: str, sig: str) -> bool:
        expires = parse_int(exp, 0, 10**18)
        if self._key is None or expires is None or expires < time.time():
            return False
        return hmac.compare_digest(self._path_sig(target, expires).encode(), sig.encode())  # bytes: any sig text

    def valid(self, audio_id: int, exp: str, sig: str) -> bool:
        expires = parse_int(exp, 0, 10**18)
        if self._key is None or expires is None or expires < time.time():
            return False
        return hmac.compare_digest(self._sig(audio_id, expires).encode(), sig.encode())

    def signed(self, scope: Scope) -> bool:
        """Whether ``scope`` is a GET/HEAD of a stream URL with a valid signature."""
        if scope["method"] not in ("GET", "HEAD"):
            return False
        path = scope["path"]
        match = _STREAM_PATH.match(path)
        if match is None and not _EVAL_STREAM_PATH.match(path):
            return False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        exp, sig = query.get("exp", [""])[0], query.get("sig", [""])[0]
        if match:
            return self.valid(int(match.group(1)), exp, sig)
        return self.valid_path(f"{path}?rater_id={query.get('rater_id', [''])[0]}", exp, sig)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return b""


def session_cookie(scope: Scope) -> str | None:
    for part in _header(scope, b"cookie").decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE and value:
            return value.strip('"')
    return None


def bearer(scope: Scope) -> str | None:
    scheme, _, supplied = _header(scope, b"authorization").decode("latin-1").partition(" ")
    supplied = supplied.strip()
    return supplied if scheme.lower() == "bearer" and supplied else None


def client_addr(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def request_origin(scope: Scope) -> str:
    """The origin this request was addressed to (scheme from X-Forwarded-Proto when a proxy set it)."""
    scheme = _header(scope, b"x-forwarded-proto").decode("latin-1").split(",")[0].strip() or scope.get("scheme", "http")
    host = _header(scope, b"host").decode("latin-1")
    return f"{scheme}://{host}".lower()


def origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def app_origins(settings: Settings) -> set[str]:
    """The app's own origins: ``TD_CORS_ORIGINS`` and the ports ``reflex run`` exported (dev mode
    serves the UI and the API on two ports of the same host)."""
    origins = {o.rstrip("/").lower() for o in settings.cors_origins}
    ports = {os.environ.get("REFLEX_FRONTEND_PORT"), os.environ.get("REFLEX_BACKEND_PORT")} - {None, ""}
    origins |= {f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in ports}
    return origins


def same_origin(scope: Scope, allowed: set[str]) -> bool:
    """CSRF check for cookie-authenticated writes: Origin (or else Referer) is one of the app's own."""
    origin = _header(scope, b"origin").decode("latin-1").strip()
    if not origin or origin == "null":
        referer = _header(scope, b"referer").decode("latin-1").strip()
        origin = (origin_of(referer) or "") if referer else origin
    origin = origin.rstrip("/").lower()
    return bool(origin) and origin != "null" and (origin == request_origin(scope) or origin in allowed)


def is_public(method: str, path: str) -> bool:
    """The routes that answer without credentials (sign-in, setup, liveness, the API's own description)."""
    return (method, path) in _PUBLIC_EXACT or path == f"{PREFIX}/auth/setup" or path.startswith(_PUBLIC_PREFIXES)


def _signs_in(path: str) -> bool:
    """Sign-in and setup start a new session whatever cookie came along: no CSRF check for them (sign-out keeps it)."""
    return path.startswith((f"{PREFIX}/auth/login", f"{PREFIX}/auth/setup", f"{PREFIX}/auth/oidc/"))


class Authenticate:
    """Resolve who each /api request acts as; 401 without credentials, 403 on a cross-site cookie write."""

    def __init__(self, app: ASGIApp, db: Database, settings: Settings, signer: AudioSigner) -> None:
        self.app, self.db, self.signer = app, db, signer
        self.off = not settings.auth_on
        self.policy = credentials.SessionPolicy.of(settings.session_idle_hours, settings.session_max_days)
        self.origins = app_origins(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if self.off:
            state["principal"] = LOCAL_ADMIN
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(f"{PREFIX}/worker/"):  # the worker token guards these (api.deps.require_worker)
            await self.app(scope, receive, send)
            return
        principal = await self._principal(scope)
        if principal is not None:
            if principal.via == "session" and scope["method"] not in _SAFE_METHODS \
                    and not _signs_in(scope["path"]) and not same_origin(scope, self.origins):
                await send_json(send, 403, "Cross-site request refused: its Origin is not this app's")
                return
            state["principal"] = principal
        elif not (is_public(scope["method"], scope["path"]) or self.signer.signed(scope)):
            await send_json(send, 401, "Sign in first: send the td_session cookie or Authorization: Bearer "
                            "<personal access token>", {b"www-authenticate": b"Bearer"})
            return
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal | None:
        token = bearer(scope)
        if token is not None:
            if not token.startswith(credentials.TOKEN_PREFIX):
                return None
            principal, due = credentials.token_principal(self.db, token)
            if due and principal is not None:
                await anyio.to_thread.run_sync(credentials.touch_token, self.db, principal.credential_id)
            return principal
        secret = session_cookie(scope)
        if secret is None:
            return None
        principal, due = credentials.session_principal(self.db, secret, self.policy)
        if due and principal is not None:
            await anyio.to_thread.run_sync(credentials.touch_session, self.db, principal.credential_id)
        return principal


async def send_json(send: Send, status: int, detail: str, extra: dict[bytes, bytes] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += list((extra or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
