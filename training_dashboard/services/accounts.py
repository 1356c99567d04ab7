"""Users, roles and passwords. Every user has a rater row: feedback keeps naming ``rater_id``.

Passwords are hashed with Argon2id through pwdlib (argon2-cffi underneath) with RFC 9106's
"second recommended" low-memory parameters, argon2-cffi's defaults: time cost 3, memory
64 MiB, parallelism 4, 16-byte salt, 32-byte hash. One verification costs ~110 ms of CPU on
this project's 2-core machine (bench/auth_cost.py measures sign-in end to end). Hashes carry
their parameters, so raising them later keeps old hashes valid (``verify_and_update``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Rater, UserAccount, utcnow
from training_dashboard.services import audit
from training_dashboard.services.errors import Conflict, NotFound
from training_dashboard.services.principal import Principal

ARGON2 = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}  # memory in KiB


@lru_cache(maxsize=1)
def hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(**ARGON2),))


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against for unknown users, so their answer takes as long."""
    return hasher().hash("not-a-password-of-anyone")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Argon2 verify; with no hash (unknown user, no password set) a dummy one, and False."""
    ok = hasher().verify(password, password_hash or dummy_hash())
    return ok and password_hash is not None


def username_for(name: str, taken: set[str]) -> str:
    """A username from a rater's name: lower-case ``[a-z0-9._-]``, unique among ``taken`` (migration 0010's rule)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9._-]+", "-", ascii_name).strip("-.")[:56] or "rater"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def user_public(user: UserAccount) -> schemas.UserPublic:
    return schemas.UserPublic(id=user.id or 0, username=user.username, display_name=user.display_name,
                              role=user.role, disabled=user.disabled, rater_id=user.rater_id,  # type: ignore[arg-type]
                              has_password=user.password_hash is not None, created_at=user.created_at,
                              last_login_at=user.last_login_at)


def principal_of(user: UserAccount, via: str = "session", credential_id: int | None = None) -> Principal:
    return Principal(user_id=user.id or 0, username=user.username, display_name=user.display_name,
                     role=user.role, rater_id=user.rater_id, via=via, credential_id=credential_id)  # type: ignore[arg-type]


def _rater_for(session: Session, display_name: str, username: str) -> int:
    """A rater row for a new user: an existing one of that name nobody owns yet, else a new one."""
    existing = session.scalar(select(Rater).where(func.lower(Rater.name) == display_name.lower()))
    if existing is not None:
        owned = session.scalar(select(UserAccount.id).where(UserAccount.rater_id == existing.id))
        if owned is None:
            return existing.id or 0
        display_name = f"{display_name[:80]} ({username})"
        if session.scalar(select(Rater.id).where(func.lower(Rater.name) == display_name.lower())) is not None:
            raise Conflict(f"A rater named '{display_name}' already exists; choose another display name")
    rater = Rater(name=display_name[:100])
    session.add(rater)
    session.flush()
    return rater.id or 0


def create_user_in(session: Session, data: schemas.UserCreate, password_hash: str | None = None) -> UserAccount:
    """Insert a user (and their rater row) in ``session``; ``password_hash`` made beforehand (outside the
    write transaction: hashing takes ~0.1 s).

    Raises:
        Conflict: the username is taken.
    """
    if session.scalar(select(UserAccount.id).where(UserAccount.username == data.username)) is not None:
        raise Conflict(f"The username '{data.username}' is taken")
    display = data.display_name or data.username
    user = UserAccount(username=data.username, display_name=display, role=data.role,
                       password_hash=password_hash,
                       rater_id=_rater_for(session, display, data.username))
    session.add(user)
    session.flush()
    return user


def create_user(db: Database, data: schemas.UserCreate, actor: Principal | None,
                client_addr: str | None = None) -> UserAccount:
    """Create a user with a rater row (audited ``user.create``).

    Raises:
        Conflict: the username is taken.
    """
    password_hash = hash_password(data.password) if data.password else None

    def run(session: Session) -> UserAccount:
        user = create_user_in(session, data, password_hash)
        audit.record(session, actor, "user.create", f"user:{user.username}",
                     {"role": data.role, "password": data.password is not None}, client_addr)
        return user

    try:
        return db.write(run)
    except IntegrityError as exc:
        raise Conflict(f"The username '{data.username}' is taken") from exc


def list_users(db: Database) -> list[UserAccount]:
    with db.session() as session:
        return list(session.scalars(select(UserAccount).order_by(UserAccount.username)))


def get_user(session: Session, user_id: int) -> UserAccount:
    user = session.get(UserAccount, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserAccount).where(
        UserAccount.role == "admin", UserAccount.disabled.is_(False))) or 0  # type: ignore[attr-defined]


def update_user(db: Database, user_id: int, data: schemas.UserUpdate, actor: Principal | None,
                client_addr: str | None = None) -> UserAccount:
    """Change a user's role, disabled flag, password or display name (each change audited).

    Raises:
        NotFound: unknown user.
        Conflict: it would leave no active admin.
    """
    new_hash = hash_password(data.password) if data.password else None

    def run(session: Session) -> UserAccount:
        user = get_user(session, user_id)
        demoted = data.role is not None and data.role != "admin"
        if user.role == "admin" and not user.disabled and (demoted or data.disabled) and _active_admins(session) <= 1:
            raise Conflict("This is the last active admin: make another admin first")
        target = f"user:{user.username}"
        if data.role is not None and data.role != user.role:
            audit.record(session, actor, "user.role", target, {"from": user.role, "to": data.role}, client_addr)
            user.role = data.role
        if data.disabled is not None and data.disabled != user.disabled:
            audit.record(session, actor, "user.disable" if data.disabled else "user.enable", target, None, client_addr)
            user.disabled = data.disabled
        if new_hash is not None:
            audit.record(session, actor, "user.password", target, None, client_addr)
            user.password_hash = new_hash
        if data.display_name is not None and data.display_name != user.display_name:
            audit.record(session, actor, "user.update", target, {"display_name": data.display_name}, client_addr)
            user.display_name = data.display_name
        session.add(user)
        return user

    return db.write(run)


def ensure_admin(db: Database, username: str, password: str) -> UserAccount:
    """``TD_ADMIN_USER`` + ``TD_ADMIN_PASSWORD``: create that admin, or make it an enabled admin with
    this password (audited ``setup.admin``)."""
    name = schemas.UserCreate(username=username, role="admin", password=password)  # validates both
    with db.session() as session:
        user = session.scalar(select(UserAccount).where(UserAccount.username == name.username))
    if user is not None and user.role == "admin" and not user.disabled and user.password_hash \
            and verify_password(password, user.password_hash):
        return user  # already so: no write, no audit entry at every start
    new_hash = hash_password(password)

    def run(session: Session) -> UserAccount:
        found = session.scalar(select(UserAccount).where(UserAccount.username == name.username))
        if found is None:
            found = create_user_in(session, schemas.UserCreate(username=name.username, role="admin"))
        found.role, found.disabled, found.password_hash = "admin", False, new_hash
        session.add(found)
        audit.record(session, None, "setup.admin", f"user:{found.username}", {"source": "TD_ADMIN_USER"}, None)
        return found

    return db.write(run)


def note_login(session: Session, user: UserAccount) -> None:
    user.last_login_at = utcnow()
    session.add(user)


def find_user(session: Session, username: str) -> UserAccount | None:
    name = username.strip().lower()
    if not re.fullmatch(schemas.USERNAME_RE, name):
        return None
    return session.scalar(select(UserAccount).where(UserAccount.username == name))


def any_password_user(db: Database) -> bool:
    """Whether some user can sign in with a password (no: the first admin is still to be made)."""
    with db.session() as session:
        return session.scalar(select(UserAccount.id).where(UserAccount.password_hash.is_not(None)).limit(1)) \
            is not None  # type: ignore[union-attr]
