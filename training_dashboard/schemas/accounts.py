"""Accounts and sign-in: users, roles, personal access tokens, the audit log, the setup link."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints

from training_dashboard.schemas.common import CleanStr, Model, UTCDateTime

Role = Literal["rater", "trainer", "admin"]
ROLES: tuple[Role, ...] = ("rater", "trainer", "admin")  # each includes the one before it
AuthMode = Literal["on", "off"]
MIN_PASSWORD_CHARS = 12
USERNAME_RE = r"^[a-z0-9._-]{1,64}$"

def _folded(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


Username = Annotated[str, BeforeValidator(_folded), StringConstraints(min_length=1, max_length=64, pattern=USERNAME_RE)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_CHARS, max_length=1024)]
DisplayName = Annotated[CleanStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class LoginRequest(Model):
    # Not validated beyond length: a malformed name is just a failed sign-in (no hint what exists).
    username: Annotated[str, Field(max_length=200)]
    password: Annotated[str, Field(max_length=1024)]


class UserPublic(Model):
    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    rater_id: int
    has_password: bool
    created_at: UTCDateTime
    last_login_at: UTCDateTime | None = None


class Me(Model):
    """Who the request acts as (``auth`` "off": the local admin of a loopback-only app)."""

    id: int
    username: str
    display_name: str
    role: Role
    rater_id: int
    auth: AuthMode


class UserCreate(Model):
    username: Username
    display_name: DisplayName | None = None  # default: the username
    role: Role = "rater"
    password: Password | None = None  # None: no local password yet (single sign-on, or set later)


class UserUpdate(Model):
    role: Role | None = None
    disabled: bool | None = None
    password: Password | None = None
    display_name: DisplayName | None = None


class TokenCreate(Model):
    name: DisplayName
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = 90  # None: never expires


class TokenPublic(Model):
    id: int
    user_id: int
    username: str
    name: str
    prefix: str  # the first characters of the secret, to recognise it
    created_at: UTCDateTime
    expires_at: UTCDateTime | None
    last_used_at: UTCDateTime | None
    revoked_at: UTCDateTime | None


class TokenCreated(TokenPublic):
    token: str  # the secret, shown this once (only its hash is stored)


class AuditEventPublic(Model):
    id: int
    at: UTCDateTime
    actor_id: int | None
    actor_name: str | None
    action: str
    target: str | None
    detail: str | None
    client_addr: str | None


class SetupStatus(Model):
    """Whether the first admin still has to be created (and whether a given link is valid); whether /login
    offers single sign-on (``GET /api/auth/oidc/login?next=<local path>``)."""

    auth: AuthMode
    needed: bool
    token_valid: bool | None = None
    sso: bool = False


class SetupRequest(Model):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    username: Username
    display_name: DisplayName | None = None
    password: Password
