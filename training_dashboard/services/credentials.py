"""Credentials: sign-in (with the guessing limit), sessions, personal access tokens, setup links.

Every secret is 32 random bytes (``secrets.token_urlsafe(32)``); the database keeps only its
sha256, so a looked-up row is found by the hash of what the client sent. Each request checks
its session or token against the database (one indexed read), so a sign-out, a disabled user or
a role change holds on the very next request in every process. ``last_seen_at`` /
``last_used_at`` are written at most once a minute per credential, not on every request.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import ApiToken, AuthSession, LoginAttempt, SetupLink, UserAccount, utcnow
from training_dashboard.services import accounts, audit
from training_dashboard.services.errors import BadRequest, Conflict, ServiceError, Unauthorized
from training_dashboard.services.principal import Principal

TOKEN_PREFIX = "td_"
TOUCH_EVERY = timedelta(seconds=60)
LOCK_WINDOW_MIN = 15.0
MAX_FAILS_PER_USER = 5
MAX_FAILS_PER_ADDR = 20
AT_ONCE_WAIT_S = 1  # Retry-After when only the attempts in flight make up the limit (they take ~0.1 s)
ATTEMPT_STALE = timedelta(seconds=60)  # an attempt row older than this was left by a crash
LOGIN_LOCK_KEY = 0x74645F6C  # PostgreSQL advisory lock of the guessing-limit count ("td_l")
SETUP_LINK_MINUTES = 30
BAD_LOGIN = "Wrong username or password"


class Locked(ServiceError):
    """Too many failed sign-ins: try again after ``retry_after`` seconds."""

    status_code = 429

    def __init__(self, retry_after: int, *, at_once: bool = False) -> None:
        said = "Too many sign-ins at once" if at_once else "Too many failed sign-ins"
        super().__init__(f"{said}: try again in {retry_after} s")
        self.retry_after, self.at_once = retry_after, at_once


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, idle_hours: float, max_days: float) -> SessionPolicy:
        return cls(timedelta(hours=idle_hours), timedelta(days=max_days))


# --- sign-in -------------------------------------------------------------------------------------------------------

def _retry_after(failures: list[datetime], limit: int, now: datetime) -> int | None:
    if len(failures) < limit:
        return None
    until = _aware(failures[limit - 1]) + timedelta(minutes=LOCK_WINDOW_MIN)  # when the window drops below the limit
    return max(1, math.ceil((until - now).total_seconds()))


def _over_limit(failures: list[datetime], in_flight: int, limit: int, now: datetime) -> Locked | None:
    """Locked until the window drops below ``limit`` failures; for 1 s when only the attempts being
    checked right now make up the limit (they end in ~0.1 s, most of them perhaps as successes)."""
    if (wait := _retry_after(failures, limit, now)) is not None:
        return Locked(wait)
    if len(failures) + in_flight >= limit:
        return Locked(AT_ONCE_WAIT_S, at_once=True)
    return None


def _hold_count(db: Database, session: Session) -> None:
    """Take the guessing limit's turn: every transaction that changes what :func:`_reserve` counts (an
    attempt taken, or ended by its outcome) runs alone. SQLite runs write transactions one at a time;
    PostgreSQL (READ COMMITTED) would otherwise let an outcome commit between the count's two queries,
    a failure added after the first and its attempt gone by the second: one guess too many."""
    if not db.is_sqlite:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOGIN_LOCK_KEY})


def _reserve(db: Database, name: str, client_addr: str | None, now: datetime) -> int:
    """Count this attempt against the guessing limit before its password is checked: a ``login_attempt``
    row, taken in one transaction with the count of failures and attempts in flight, in turn with every
    other (:func:`_hold_count`; milliseconds each).

    Raises:
        Locked: the limit is reached (failures and attempts in flight together; audited ``login.locked``).
    """
    since = now - timedelta(minutes=LOCK_WINDOW_MIN)
    addr = (client_addr or None) and client_addr[:64]  # as the audit log stores it

    def run(session: Session) -> tuple[int, Locked | None]:
        _hold_count(db, session)
        session.execute(delete(LoginAttempt).where(LoginAttempt.started_at < now - ATTEMPT_STALE))
        in_flight = select(func.count()).select_from(LoginAttempt)
        locked = _over_limit(audit.failures_since(session, since, username=name),
                             session.scalar(in_flight.where(LoginAttempt.username == name)) or 0,
                             MAX_FAILS_PER_USER, now)
        if locked is None and addr:
            locked = _over_limit(audit.failures_since(session, since, client_addr=addr),
                                 session.scalar(in_flight.where(LoginAttempt.client_addr == addr)) or 0,
                                 MAX_FAILS_PER_ADDR, now)
        if locked is not None:
            audit.record(session, None, "login.locked", f"user:{name}",
                         {"retry_after": locked.retry_after, "at_once": locked.at_once}, addr, actor_name=name)
            return 0, locked
        attempt = LoginAttempt(username=name, client_addr=addr, started_at=now)
        session.add(attempt)
        session.flush()
        return attempt.id or 0, None

    attempt_id, locked = db.write(run)
    if locked is not None:
        raise locked
    return attempt_id


def sign_in(db: Database, username: str, password: str, policy: SessionPolicy,
            client_addr: str | None) -> tuple[UserAccount, str]:
    """Check a username and password; a new session's secret on success (audited either way).

    Raises:
        Locked: 5 failures for this username or 20 from this address in the last 15 minutes, attempts
            being checked at this moment included (even when the password is right).
        Unauthorized: wrong username or password, or a disabled user (one message for all).
    """
    name = username.strip().lower()[:64]
    now = utcnow()
    attempt_id = _reserve(db, name, client_addr, now)
    def done(session: Session) -> None:
        _hold_count(db, session)
        session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))

    try:
        with db.session() as session:
            user = accounts.find_user(session, name)
        ok = accounts.verify_password(password, user.password_hash if user else None)  # dummy hash when unknown
    except BaseException:
        db.write(done)
        raise
    if not ok or user is None or user.disabled:
        reason = "unknown user" if user is None else "disabled" if ok else "wrong password"

        def failed(session: Session) -> None:
            done(session)
            audit.record(session, None, "login.failed", f"user:{name}", {"reason": reason}, client_addr,
                         actor_name=name)

        db.write(failed)
        raise Unauthorized(BAD_LOGIN)
    secret = secrets.token_urlsafe(32)

    def run(session: Session) -> UserAccount:
        done(session)
        found = session.get(UserAccount, user.id)
        assert found is not None
        accounts.note_login(session, found)
        session.execute(delete(AuthSession).where(AuthSession.user_id == found.id, AuthSession.expires_at < now))
        session.add(AuthSession(secret_hash=hash_secret(secret), user_id=found.id or 0, created_at=now,
                                last_seen_at=now, expires_at=now + policy.absolute))
        audit.record(session, accounts.principal_of(found), "login.ok", f"user:{found.username}", None, client_addr)
        return found

    return db.write(run), secret


class AccountDisabled(Unauthorized):
    """Single sign-on named a user whom an admin disabled (the provider vouched for them: saying so leaks nothing)."""


def sign_in_external(db: Database, subject: str, username: str, display_name: str | None,
                     default_role: schemas.Role, policy: SessionPolicy, client_addr: str | None,
                     provider: str) -> tuple[UserAccount, str]:
    """Single sign-on (OpenID Connect, ``/api/auth/oidc/*``): the provider vouched for ``subject``
    (``<issuer>|<sub>``, who the person is) and suggests ``username``; find or create that user and
    start a session.

    The subject decides: a user bound to it signs in whatever username the provider now suggests.
    An unbound username is claimed (bound) only by a passwordless user: a rater from before sign-in,
    a user an admin created without a password for this person, a single sign-on user from before
    binding. A user with a local password, or bound to another subject, is never signed in this way:
    someone at the provider who picks an admin's username must not become that admin.

    Raises:
        AccountDisabled: the user is disabled.
        Unauthorized: the name is not a valid username; that user signs in with a password; or the
            username belongs to another single sign-on identity.
    """
    name = username.strip().lower()

    def refuse(reason: str, error: Unauthorized) -> Unauthorized:
        audit.write(db, None, "login.failed", f"user:{name[:64]}", {"via": provider, "reason": reason},
                    client_addr, actor_name=name[:64])
        return error

    if not re.fullmatch(schemas.USERNAME_RE, name):
        raise refuse("bad username", Unauthorized("This account's username cannot be used here "
                                                  "(letters, digits, '.', '_', '-')"))
    if not subject or len(subject) > 600:
        raise refuse("bad subject", Unauthorized("The provider gave no usable subject for this account"))
    secret, now = secrets.token_urlsafe(32), utcnow()

    def run(session: Session) -> tuple[UserAccount, str | None]:
        user = session.scalar(select(UserAccount).where(UserAccount.sso_subject == subject))
        created = bound = False
        if user is None:
            user = accounts.find_user(session, name)
            if user is None:
                user = accounts.create_user_in(session, schemas.UserCreate(username=name, display_name=display_name,
                                                                           role=default_role))
                created = True
            elif user.sso_subject is not None and user.sso_subject != subject:  # (equal: a racing first sign-in)
                return user, "another identity"
            elif user.password_hash is not None:
                return user, "has a password"
            elif user.disabled:
                return user, "disabled"
            user.sso_subject, bound = subject, True
        elif user.disabled:
            return user, "disabled"
        accounts.note_login(session, user)
        session.add(AuthSession(secret_hash=hash_secret(secret), user_id=user.id or 0, created_at=now,
                                last_seen_at=now, expires_at=now + policy.absolute))
        detail = {"via": provider, "created": created, "bound": bound}
        audit.record(session, accounts.principal_of(user), "login.ok", f"user:{user.username}", detail, client_addr)
        return user, None

    try:
        user, refused = db.write(run)
    except (IntegrityError, Conflict):  # a racing first sign-in bound the subject or took the name: it has
        user, refused = db.write(run)   # committed by now, so looking again finds that user
    if refused == "disabled":
        raise refuse(refused, AccountDisabled("This account is disabled: ask an admin"))
    if refused == "another identity":
        raise refuse(refused, Unauthorized("This username belongs to another single sign-on account: ask an "
                                           "admin"))
    if refused:
        raise refuse(refused, Unauthorized("This user signs in with a password, not single sign-on"))
    return user, secret


def start_session(db: Database, user_id: int, policy: SessionPolicy) -> str:
    """A new session for a user (the setup link signs its new admin in); its secret."""
    secret, now = secrets.token_urlsafe(32), utcnow()
    db.write(lambda session: session.add(AuthSession(secret_hash=hash_secret(secret), user_id=user_id, created_at=now,
                                                     last_seen_at=now, expires_at=now + policy.absolute)))
    return secret


def end_session(db: Database, secret: str) -> None:
    db.write(lambda session: session.execute(delete(AuthSession).where(AuthSession.secret_hash == hash_secret(secret))))


# --- per-request look-ups ------------------------------------------------------------------------------------------

_USER_COLUMNS = (UserAccount.id, UserAccount.username, UserAccount.display_name, UserAccount.role,
                 UserAccount.rater_id, UserAccount.disabled)
# Core statements on a pooled connection: no ORM session or identity map for the per-request look-up.
_SESSION_QUERY = (select(AuthSession.id, AuthSession.last_seen_at, AuthSession.expires_at, *_USER_COLUMNS)
                  .join(UserAccount, UserAccount.id == AuthSession.user_id))
_TOKEN_QUERY = (select(ApiToken.id, ApiToken.last_used_at, ApiToken.expires_at, ApiToken.revoked_at, *_USER_COLUMNS)
                .join(UserAccount, UserAccount.id == ApiToken.user_id))


def _lookup(db: Database, query, column, secret: str):  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return conn.execute(query.where(column == hash_secret(secret))).first()


def _principal(row, via: str, credential_id: int) -> Principal:  # type: ignore[no-untyped-def]
    user_id, username, display_name, role, rater_id, _disabled = row
    return Principal(user_id=user_id, username=username, display_name=display_name, role=role, rater_id=rater_id,
                     via=via, credential_id=credential_id)


def session_principal(db: Database, secret: str, policy: SessionPolicy) -> tuple[Principal | None, bool]:
    """The user behind a session cookie, or None (unknown, expired, idle too long, disabled user);
    and whether ``last_seen_at`` is due a write (call :func:`touch_session`)."""
    row = _lookup(db, _SESSION_QUERY, AuthSession.secret_hash, secret)
    if row is None:
        return None, False
    session_id, last_seen, expires, *user = row
    now = utcnow()
    if user[-1] or _aware(expires) <= now or _aware(last_seen) + policy.idle <= now:
        return None, False
    return _principal(user, "session", session_id), _aware(last_seen) + TOUCH_EVERY <= now


def touch_session(db: Database, session_id: int) -> None:
    db.write(lambda s: s.execute(update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=utcnow())))


def token_principal(db: Database, secret: str) -> tuple[Principal | None, bool]:
    """The owner of a personal access token, or None (unknown, revoked, expired, disabled owner);
    and whether ``last_used_at`` is due a write (call :func:`touch_token`)."""
    row = _lookup(db, _TOKEN_QUERY, ApiToken.secret_hash, secret)
    if row is None:
        return None, False
    token_id, last_used, expires, revoked, *user = row
    now = utcnow()
    if user[-1] or revoked is not None or (expires is not None and _aware(expires) <= now):
        return None, False
    return _principal(user, "token", token_id), last_used is None or _aware(last_used) + TOUCH_EVERY <= now


def touch_token(db: Database, token_id: int) -> None:
    db.write(lambda s: s.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow())))


# --- the first admin's setup link ----------------------------------------------------------------------------------

def new_setup_link(db: Database) -> str:
    """A one-time secret that creates the first admin (30 minutes)."""
    secret, now = secrets.token_urlsafe(32), utcnow()
    db.write(lambda session: session.add(SetupLink(secret_hash=hash_secret(secret), created_at=now,
                                                   expires_at=now + timedelta(minutes=SETUP_LINK_MINUTES))))
    return secret


def setup_link_valid(db: Database, secret: str) -> bool:
    with db.session() as session:
        link = session.scalar(select(SetupLink).where(SetupLink.secret_hash == hash_secret(secret)))
    return link is not None and link.used_at is None and _aware(link.expires_at) > utcnow()


def use_setup_link(db: Database, data: schemas.SetupRequest, client_addr: str | None) -> UserAccount:
    """Create the first admin with a setup link (the link is spent in the same transaction).

    Raises:
        BadRequest: the link is unknown, used or expired.
        Conflict: a user with a password exists already (the first admin is made).
    """
    password_hash = accounts.hash_password(data.password)

    def run(session: Session) -> UserAccount:
        # FOR UPDATE: two racing uses of one link on PostgreSQL apply in turn, the second sees it spent
        link = session.scalar(select(SetupLink).where(SetupLink.secret_hash == hash_secret(data.token))
                              .with_for_update())
        if link is None or link.used_at is not None or _aware(link.expires_at) <= utcnow():
            raise BadRequest("This setup link is unknown, used or expired: restart the app for a new one")
        if session.scalar(select(UserAccount.id).where(UserAccount.password_hash.is_not(None)).limit(1)):  # type: ignore[union-attr]
            raise Conflict("The first admin exists already: sign in")
        link.used_at = utcnow()
        session.add(link)
        user = session.scalar(select(UserAccount).where(UserAccount.username == data.username))
        if user is None:
            user = accounts.create_user_in(session, schemas.UserCreate(
                username=data.username, display_name=data.display_name, role="admin"), password_hash)
        user.role, user.disabled, user.password_hash = "admin", False, password_hash
        session.add(user)
        audit.record(session, accounts.principal_of(user), "setup.admin", f"user:{user.username}",
                     {"source": "setup link"}, client_addr)
        return user

    return db.write(run)
