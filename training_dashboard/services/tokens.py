"""Personal access tokens (``td_...``): made with a name and an expiry, shown once, stored as a sha256,
listed with their last use, revocable. They carry their owner's role (checked per request in
``credentials.token_principal``)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import ApiToken, UserAccount, utcnow
from training_dashboard.services import accounts, audit
from training_dashboard.services.credentials import TOKEN_PREFIX, hash_secret
from training_dashboard.services.errors import NotFound
from training_dashboard.services.principal import Principal


def token_public(token: ApiToken, username: str, secret: str | None = None) -> schemas.TokenPublic:
    fields = dict(id=token.id or 0, user_id=token.user_id, username=username, name=token.name, prefix=token.prefix,
                  created_at=token.created_at, expires_at=token.expires_at, last_used_at=token.last_used_at,
                  revoked_at=token.revoked_at)
    return schemas.TokenCreated(**fields, token=secret) if secret else schemas.TokenPublic(**fields)


def create_token(db: Database, owner_id: int, data: schemas.TokenCreate, actor: Principal | None,
                 client_addr: str | None = None) -> schemas.TokenCreated:
    """A new personal access token for ``owner_id``: the secret is in the answer, and only there."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()

    def run(session: Session) -> schemas.TokenCreated:
        owner = accounts.get_user(session, owner_id)
        token = ApiToken(user_id=owner_id, name=data.name, secret_hash=hash_secret(secret), prefix=secret[:8],
                         created_at=now, expires_at=now + timedelta(days=data.expires_in_days)
                         if data.expires_in_days else None)
        session.add(token)
        session.flush()
        audit.record(session, actor, "token.create", f"token:{token.id}",
                     {"owner": owner.username, "name": data.name, "prefix": token.prefix}, client_addr)
        return token_public(token, owner.username, secret)  # type: ignore[return-value]

    return db.write(run)


def list_tokens(db: Database, user_id: int | None) -> list[schemas.TokenPublic]:
    """Tokens of one user (``None``: everyone's), newest first, revoked ones included."""
    query = select(ApiToken, UserAccount.username).join(UserAccount, UserAccount.id == ApiToken.user_id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    with db.session() as session:
        return [token_public(t, name) for t, name in session.execute(query.order_by(ApiToken.id.desc()).limit(1000))]


def revoke_token(db: Database, token_id: int, actor: Principal, client_addr: str | None = None) -> None:
    """Revoke a token (its owner's, or anyone's for an admin).

    Raises:
        NotFound: unknown token, or another user's for a non-admin (no hint that it exists).
    """

    def run(session: Session) -> None:
        token = session.get(ApiToken, token_id)
        if token is None or (token.user_id != actor.user_id and not actor.has("admin")):
            raise NotFound(f"Token {token_id} not found")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            session.add(token)
            audit.record(session, actor, "token.revoke", f"token:{token_id}", {"owner_id": token.user_id},
                         client_addr)

    db.write(run)
