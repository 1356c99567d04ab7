"""Personal access tokens: your own (an admin: anyone's). The secret is shown once, at creation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from training_dashboard import schemas
from training_dashboard.api.deps import AS_RATER, DbDep, RaterDep, client_addr
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import tokens
from training_dashboard.services.errors import Forbidden

router = APIRouter(prefix="/tokens", tags=["tokens"], dependencies=AS_RATER)
IdPath = Path(ge=1, le=MAX_ID)


def _owner(principal, user_id: int | None) -> int | None:  # type: ignore[no-untyped-def]
    if user_id is not None and user_id != principal.user_id and not principal.has("admin"):
        raise Forbidden("needs the admin role")
    return user_id


@router.get("", response_model=list[schemas.TokenPublic])
def read_tokens(db: DbDep, principal: RaterDep, user_id: Annotated[int | None, Query(
        ge=1, le=MAX_ID, description="admins: this user's tokens (left out: everyone's)")] = None,
                ) -> list[schemas.TokenPublic]:
    """Your tokens, newest first (an admin without ``user_id``: everyone's)."""
    owner = _owner(principal, user_id)
    if owner is None and not principal.has("admin"):
        owner = principal.user_id
    return tokens.list_tokens(db, owner)


@router.post("", status_code=201, response_model=schemas.TokenCreated)
def create_token(body: schemas.TokenCreate, request: Request, db: DbDep, principal: RaterDep,
                 user_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="admins: for this user")] = None,
                 ) -> schemas.TokenCreated:
    """A new personal access token for yourself (an admin: for ``user_id``): ``token`` is in this answer only
    (stored hashed)."""
    owner = _owner(principal, user_id) or principal.user_id
    return tokens.create_token(db, owner, body, principal, client_addr(request))


@router.delete("/{token_id}", status_code=204, response_class=Response)
def revoke_token(request: Request, db: DbDep, principal: RaterDep, token_id: int = IdPath) -> Response:
    """Revoke a token: the next request with it gets 401."""
    tokens.revoke_token(db, token_id, principal, client_addr(request))
    return Response(status_code=204)
