"""Sign-in: login (JSON and the /login page's plain HTML form), logout, me, the first admin's setup link.

The session secret travels only in the ``td_session`` cookie: HttpOnly (page scripts cannot
read it), SameSite=Lax, Path=/, Secure under https. A form's redirect goes to a local path
only (``/...``, never ``//...``), on the origin the form was posted from when that is one of the
app's own (dev mode serves the UI on another port than the API).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from training_dashboard import schemas
from training_dashboard.api import access
from training_dashboard.api.deps import CurrentUser, DbDep, SettingsDep, client_addr
from training_dashboard.config import Settings
from training_dashboard.services import accounts, credentials
from training_dashboard.services.errors import ServiceError
from training_dashboard.services.principal import Principal

router = APIRouter(prefix="/auth", tags=["auth"])


def policy(settings: Settings) -> credentials.SessionPolicy:
    return credentials.SessionPolicy.of(settings.session_idle_hours, settings.session_max_days)


def is_secure(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return (proto or request.url.scheme) == "https"


def set_session_cookie(response: Response, request: Request, settings: Settings, secret: str) -> None:
    response.set_cookie(access.COOKIE, secret, max_age=int(settings.session_max_days * 86400), path="/",
                        httponly=True, samesite="lax", secure=is_secure(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(access.COOKIE, path="/", httponly=True, samesite="lax", secure=is_secure(request))


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site ("/..." but not "//..." or "/\\..."), else ``default``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(
            ord(c) < 32 for c in target):
        return default
    return target


def return_origin(request: Request, settings: Settings) -> str:
    """The app origin the browser came from when it is not the API's own (dev mode: the UI's port), else ""."""
    origin = request.headers.get("origin") or ""
    if not origin or origin == "null":
        origin = access.origin_of(request.headers.get("referer", "")) or ""
    origin = origin.rstrip("/").lower()
    own = origin and origin != access.request_origin(request.scope) and origin in access.app_origins(settings)
    return origin if own else ""


def _redirect(request: Request, settings: Settings, path: str) -> RedirectResponse:
    return RedirectResponse(return_origin(request, settings) + path, status_code=303)


def _me(principal: Principal, settings: Settings) -> schemas.Me:
    return schemas.Me(id=principal.user_id, username=principal.username, display_name=principal.display_name,
                      role=principal.role, rater_id=principal.rater_id, auth=settings.auth)


def _sign_in(request: Request, db, settings: Settings, username: str, password: str):  # type: ignore[no-untyped-def]
    try:
        return credentials.sign_in(db, username, password, policy(settings), client_addr(request))
    except credentials.Locked as exc:
        raise HTTPException(429, exc.message, headers={"Retry-After": str(exc.retry_after)}) from None


@router.post("/login", response_model=schemas.UserPublic,
             responses={401: {"model": schemas.ErrorBody}, 429: {"model": schemas.ErrorBody}})
def login(body: schemas.LoginRequest, request: Request, response: Response, db: DbDep,
          settings: SettingsDep) -> schemas.UserPublic:
    """Sign in with a username and password: sets the ``td_session`` cookie (a new session every time)."""
    user, secret = _sign_in(request, db, settings, body.username, body.password)
    set_session_cookie(response, request, settings, secret)
    return accounts.user_public(user)


@router.post("/login/form", response_class=RedirectResponse, status_code=303)
def login_form(request: Request, db: DbDep, settings: SettingsDep,
               username: Annotated[str, Form(max_length=200)] = "",
               password: Annotated[str, Form(max_length=1024)] = "",
               next: Annotated[str, Form(max_length=2000)] = "/") -> RedirectResponse:  # noqa: A002 - the form field
    """The /login page's form: 303 to ``next`` signed in, or back to ``/login?error=...&next=...``."""
    target = local_path(next)
    error = "missing" if not username or not password else None
    if error is None:
        try:
            _user, secret = credentials.sign_in(db, username, password, policy(settings), client_addr(request))
        except credentials.Locked as exc:
            return _redirect(request, settings, "/login?" + urlencode(
                {"error": "busy" if exc.at_once else "locked", "retry_after": exc.retry_after, "next": target},
                quote_via=quote))
        except credentials.Unauthorized:
            error = "invalid"
        else:
            response = _redirect(request, settings, target)
            set_session_cookie(response, request, settings, secret)
            return response
    return _redirect(request, settings, "/login?" + urlencode({"error": error, "next": target}, quote_via=quote))


@router.post("/logout", status_code=204, response_class=Response,
             responses={303: {"description": "form posts go to /login"}})
def logout(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    """Sign out: the server forgets the session (every tab, every process) and the cookie is cleared."""
    secret = access.session_cookie(request.scope)
    if secret:
        credentials.end_session(db, secret)
    form = request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                               "multipart/form-data"))
    response: Response = _redirect(request, settings, "/login") if form else Response(status_code=204)
    clear_session_cookie(response, request)
    return response


@router.get("/me", response_model=schemas.Me)
def read_me(principal: CurrentUser, settings: SettingsDep) -> schemas.Me:
    """Who the request acts as, with their role and rater id (``auth``: whether sign-in is on)."""
    return _me(principal, settings)


@router.get("/setup", response_model=schemas.SetupStatus)
def read_setup(db: DbDep, settings: SettingsDep, token: str | None = None) -> schemas.SetupStatus:
    """Whether the first admin is still to be created, and whether ``token`` is a valid setup link."""
    needed = settings.auth_on and not accounts.any_password_user(db)
    valid = credentials.setup_link_valid(db, token[:200]) if token and needed else (False if token else None)
    return schemas.SetupStatus(auth=settings.auth, needed=needed, token_valid=valid, sso=settings.sso_on)


@router.post("/setup", status_code=201, response_model=schemas.UserPublic)
def create_first_admin(body: schemas.SetupRequest, request: Request, response: Response, db: DbDep,
                       settings: SettingsDep) -> schemas.UserPublic:
    """Create the first admin with the one-time setup link from the console, and sign them in."""
    user = credentials.use_setup_link(db, body, client_addr(request))
    set_session_cookie(response, request, settings, credentials.start_session(db, user.id or 0, policy(settings)))
    return accounts.user_public(user)


@router.post("/setup/form", response_class=RedirectResponse, status_code=303)
def setup_form(request: Request, db: DbDep, settings: SettingsDep,
               token: Annotated[str, Form(max_length=200)] = "", username: Annotated[str, Form(max_length=200)] = "",
               display_name: Annotated[str, Form(max_length=200)] = "",
               password: Annotated[str, Form(max_length=1024)] = "") -> RedirectResponse:
    """The /setup page's form: 303 to / signed in as the new admin, or back to ``/setup?token=...&error=...``."""
    try:
        body = schemas.SetupRequest(token=token, username=username, display_name=display_name or None,
                                    password=password)
    except ValueError as exc:
        short = "password" if "password" in str(exc) else "username"
        return _redirect(request, settings, "/setup?" + urlencode({"token": token, "error": short}, quote_via=quote))
    try:
        user = credentials.use_setup_link(db, body, client_addr(request))
    except ServiceError as exc:
        code = "done" if exc.status_code == 409 else "link"
        return _redirect(request, settings, "/setup?" + urlencode({"token": token, "error": code}, quote_via=quote))
    response = _redirect(request, settings, "/")
    set_session_cookie(response, request, settings, credentials.start_session(db, user.id or 0, policy(settings)))
    return response
