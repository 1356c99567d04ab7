"""Single sign-on with OpenID Connect: ``/api/auth/oidc/login`` sends the browser to the provider,
``/api/auth/oidc/callback`` signs it in (public routes: see ``access.is_public``).

Between the two, the flow's secrets (state, nonce, PKCE verifier), the redirect URI and where to
return wait in the ``td_oidc`` cookie: HMAC-signed with the app's secret key (``TD_SECRET_KEY``,
shared by every process), HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET,
which Lax lets through), Path=/api/auth/oidc, 10 minutes. No session middleware is needed. Any
failure (provider down, denied, bad state, an ID token that does not check out, a disabled user) is
logged, audited as ``login.failed`` and lands on ``/login?error=sso`` (``error=disabled`` for a
disabled user), never a 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from training_dashboard.api import access, auth
from training_dashboard.api.deps import DbDep, SettingsDep, client_addr
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.services import audit, credentials
from training_dashboard.services.errors import ServiceError, Unauthorized
from training_dashboard.services.oidc import OidcClient, SsoFailed

log = logging.getLogger("training_dashboard.sso")
router = APIRouter(prefix="/auth/oidc", tags=["auth"])
PROVIDER = "oidc"
STATE_COOKIE = "td_oidc"
STATE_PATH = f"{access.PREFIX}/auth/oidc"
STATE_TTL_S = 600
CALLBACK_PATH = f"{STATE_PATH}/callback"
_STATE_FIELDS = ("state", "nonce", "verifier", "redirect_uri", "next", "origin")


def make_client(settings: Settings) -> OidcClient | None:
    """The provider client for ``create_app`` (None when single sign-on is not configured)."""
    if not settings.sso_on:
        return None
    return OidcClient(settings.oidc_issuer or "", settings.oidc_client_id or "", settings.oidc_client_secret)


def _state_key(settings: Settings) -> bytes:
    return hashlib.sha256(b"td-oidc-state:" + settings.resolved_secret_key()).digest()


def seal(settings: Settings, data: dict[str, Any]) -> str:
    """``data`` (with an expiry) as ``<base64url json>.<hmac>``."""
    payload = json.dumps({**data, "exp": int(time.time()) + STATE_TTL_S}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{hmac.new(_state_key(settings), body.encode(), hashlib.sha256).hexdigest()}"


def unseal(settings: Settings, value: str | None) -> dict[str, str] | None:
    """What :func:`seal` sealed, or None when missing, forged or expired."""
    body, _, sig = (value or "").rpartition(".")
    if not body or not hmac.compare_digest(
            hmac.new(_state_key(settings), body.encode(), hashlib.sha256).hexdigest().encode(), sig.encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] < time.time() \
            or not all(isinstance(data.get(key), str) for key in _STATE_FIELDS):
        return None
    return data


def _clear_state(response: RedirectResponse, request: Request) -> None:
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH, httponly=True, samesite="lax", secure=auth.is_secure(request))


async def _fail(request: Request, db: Database, origin: str, target: str, reason: str, *, code: str = "sso",
                audited: bool = False) -> RedirectResponse:
    log.warning("single sign-on failed: %s", reason)
    if not audited:
        await run_in_threadpool(audit.write, db, None, "login.failed", None, {"via": PROVIDER, "reason": reason[:500]},
                                client_addr(request))
    response = RedirectResponse(origin + "/login?" + urlencode({"error": code, "next": target}, quote_via=quote),
                                status_code=303)
    _clear_state(response, request)
    return response


@router.get("/login", response_class=RedirectResponse, status_code=302,
            responses={303: {"description": "single sign-on is off or the provider is unreachable: /login?error=sso"}})
async def oidc_login(request: Request, db: DbDep, settings: SettingsDep,
                     next: Annotated[str, Query(max_length=2000)] = "/") -> RedirectResponse:  # noqa: A002
    """Single sign-on: 302 to the provider's sign-in page; it returns to ``/callback``, which goes on to ``next``."""
    target, origin = auth.local_path(next), auth.return_origin(request, settings)
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        return await _fail(request, db, origin, target, "single sign-on is not configured (TD_OIDC_ISSUER, "
                                                        "TD_OIDC_CLIENT_ID)")
    redirect_uri = settings.oidc_redirect_uri or access.request_origin(request.scope) + CALLBACK_PATH
    try:
        started = await client.authorization(redirect_uri)
    except SsoFailed as exc:
        return await _fail(request, db, origin, target, exc.message)
    response = RedirectResponse(started.url, status_code=302)
    sealed = seal(settings, {"state": started.state, "nonce": started.nonce, "verifier": started.code_verifier,
                             "redirect_uri": redirect_uri, "next": target, "origin": origin})
    response.set_cookie(STATE_COOKIE, sealed, max_age=STATE_TTL_S, path=STATE_PATH, httponly=True, samesite="lax",
                        secure=auth.is_secure(request))
    return response


@router.get("/callback", response_class=RedirectResponse, status_code=303)
async def oidc_callback(request: Request, db: DbDep, settings: SettingsDep,
                        code: Annotated[str | None, Query(max_length=4096)] = None,
                        state: Annotated[str | None, Query(max_length=512)] = None,
                        error: Annotated[str | None, Query(max_length=200)] = None,
                        error_description: Annotated[str | None, Query(max_length=1000)] = None) -> RedirectResponse:
    """Where the provider returns: check state, redeem the code, check the ID token; 303 to ``next`` signed in
    (a first sign-in creates the user with ``TD_OIDC_DEFAULT_ROLE``), or to ``/login?error=sso``."""
    client: OidcClient | None = request.app.state.oidc
    sealed = unseal(settings, request.cookies.get(STATE_COOKIE)) if client is not None else None
    origin, target = (sealed["origin"], sealed["next"]) if sealed else ("", "/")
    if client is None:
        return await _fail(request, db, origin, target, "single sign-on is not configured")
    if sealed is None:
        return await _fail(request, db, origin, target, "no sign-in in progress: the state cookie is missing, "
                                                        "forged or older than 10 minutes")
    if error or not code:  # a failure either way (some providers leave the state off their error answer)
        said = f"{error}: {error_description}" if error_description else error or "no code"
        return await _fail(request, db, origin, target, f"the provider answered {said}")
    if not state or not hmac.compare_digest(state.encode(), sealed["state"].encode()):
        return await _fail(request, db, origin, target, "the state does not match this browser's sign-in")
    try:
        who = await client.identity(code, sealed["redirect_uri"], sealed["nonce"], sealed["verifier"])
    except SsoFailed as exc:
        return await _fail(request, db, origin, target, exc.message)
    try:
        _user, secret = await run_in_threadpool(credentials.sign_in_external, db, who.subject, who.username,
                                                who.display_name, settings.oidc_default_role, auth.policy(settings),
                                                client_addr(request), PROVIDER)
    except credentials.AccountDisabled as exc:
        return await _fail(request, db, origin, target, exc.message, code="disabled", audited=True)
    except Unauthorized as exc:
        return await _fail(request, db, origin, target, f"{who.username}: {exc.message}", audited=True)
    except (ServiceError, ValueError) as exc:  # e.g. a display name that clashes with another rater's
        return await _fail(request, db, origin, target, f"{who.username}: {exc}")
    response = RedirectResponse(origin + target, status_code=303)
    _clear_state(response, request)
    auth.set_session_cookie(response, request, settings, secret)
    return response
