"""Accounts: users (each with a rater row), sign-in sessions, personal access tokens, the
one-time setup links and the append-only audit log.

Secrets are never stored: sessions, tokens and setup links keep the sha256 of a random
secret of 32 bytes, so a copy of the database signs nobody in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from training_dashboard.db.models.common import utcnow


class UserAccount(SQLModel, table=True):
    """A person who signs in. ``rater_id`` ties them to the rater row their feedback names."""

    __tablename__ = "user_account"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, sa_column_kwargs={"unique": True})  # lower-case [a-z0-9._-]
    display_name: str = Field(max_length=100)
    role: str = Field(default="rater", max_length=16)
    disabled: bool = False
    password_hash: str | None = Field(default=None, max_length=255)  # None: no local password (yet)
    # "<issuer>|<sub>" of the single sign-on identity this user is (bound at its first sign-in)
    sso_subject: str | None = Field(default=None, max_length=600, unique=True, index=True)
    rater_id: int = Field(foreign_key="rater.id", sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class AuthSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds the secret, the row its hash and expiry."""

    __tablename__ = "auth_session"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime  # absolute: created_at + TD_SESSION_MAX_DAYS


class ApiToken(SQLModel, table=True):
    """A personal access token (``td_...``): carries its owner's role."""

    __tablename__ = "api_token"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=100)
    secret_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    prefix: str = Field(max_length=16)  # the first characters, to recognise it in a list
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class SetupLink(SQLModel, table=True):
    """A one-time link that creates the first admin (single use, short-lived)."""

    __tablename__ = "setup_link"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class LoginAttempt(SQLModel, table=True):
    """A password sign-in being checked now: it counts against the guessing limit until its outcome
    (a ``login.failed`` or ``login.ok`` audit row) is written, so racing guesses cannot all pass the
    check before the first failure lands. Deleted with the outcome; one left by a crash goes stale."""

    __tablename__ = "login_attempt"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, index=True)
    client_addr: str | None = Field(default=None, max_length=64, index=True)
    started_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Who did what, when, from where. Rows are only ever inserted."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_actor_at", "actor_id", "at"),
        Index("ix_audit_event_action_at", "action", "at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor_id: int | None = None  # a user id; plain integer: the log outlives what it names
    actor_name: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    client_addr: str | None = Field(default=None, max_length=64)
