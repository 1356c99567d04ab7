"""Users (admin): list, create, change role / disabled / password / display name."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request

from training_dashboard import schemas
from training_dashboard.api.deps import AS_ADMIN, AdminDep, DbDep, client_addr
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import accounts

router = APIRouter(prefix="/users", tags=["users"], dependencies=AS_ADMIN)
IdPath = Path(ge=1, le=MAX_ID)


@router.get("", response_model=list[schemas.UserPublic])
def read_users(db: DbDep) -> list[schemas.UserPublic]:
    """Every user, by username."""
    return [accounts.user_public(u) for u in accounts.list_users(db)]


@router.post("", status_code=201, response_model=schemas.UserPublic)
def create_user(body: schemas.UserCreate, request: Request, db: DbDep, admin: AdminDep) -> schemas.UserPublic:
    """Create a user (and their rater); without a password they sign in by single sign-on or once one is set."""
    return accounts.user_public(accounts.create_user(db, body, admin, client_addr(request)))


@router.patch("/{user_id}", response_model=schemas.UserPublic)
def update_user(body: schemas.UserUpdate, request: Request, db: DbDep, admin: AdminDep,
                user_id: int = IdPath) -> schemas.UserPublic:
    """Change role, disabled flag, password or display name; effective on the user's next request.

    409 when it would leave no active admin.
    """
    return accounts.user_public(accounts.update_user(db, user_id, body, admin, client_addr(request)))
