from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select

from training_dashboard import schemas
from training_dashboard.api.deps import AdminDep, DbDep, SettingsDep, client_addr, require_role
from training_dashboard.db.models import Rater, UserAccount
from training_dashboard.services import accounts, quality, raters
from training_dashboard.services.errors import Conflict

router = APIRouter(tags=["raters"], dependencies=[Depends(require_role("trainer"))])


@router.post("/raters", status_code=201, response_model=schemas.RaterPublic)
def create_rater(body: schemas.RaterCreate, request: Request, db: DbDep, settings: SettingsDep,
                 admin: AdminDep) -> schemas.RaterPublic:
    """Add a rater (names are unique: 409 otherwise); with sign-in on, as a user without a password (role rater)."""
    if not settings.auth_on:
        return raters.rater_public(raters.create_rater(db, body))
    with db.session() as session:
        if session.scalar(select(Rater.id).where(func.lower(Rater.name) == body.name.lower())) is not None:
            raise Conflict(f"A rater named '{body.name}' already exists; pick it or choose another name")
        taken = set(session.scalars(select(UserAccount.username)))
    user = accounts.create_user(db, schemas.UserCreate(username=accounts.username_for(body.name, taken),
                                                       display_name=body.name), admin, client_addr(request))
    with db.session() as session:
        return raters.rater_public(raters.get_rater(session, user.rater_id))


@router.get("/raters", response_model=list[schemas.RaterPublic])
def read_raters(db: DbDep) -> list[schemas.RaterPublic]:
    """Every rater with their rating and preference counts, by name."""
    return [raters.rater_public(r) for r in raters.list_raters(db)]


@router.get("/feedback/quality", response_model=schemas.FeedbackQuality)
def read_feedback_quality(db: DbDep, settings: SettingsDep) -> schemas.FeedbackQuality:
    """Inter-rater agreement, per-rater figures, preference consistency and coverage."""
    return quality.feedback_quality(db, settings.readiness_min_rating)
