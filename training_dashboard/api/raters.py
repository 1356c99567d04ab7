from __future__ import annotations

from fastapi import APIRouter

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, SettingsDep
from training_dashboard.services import quality, raters

router = APIRouter(tags=["raters"])


@router.post("/raters", status_code=201, response_model=schemas.RaterPublic)
def create_rater(body: schemas.RaterCreate, db: DbDep) -> schemas.RaterPublic:
    """Add a rater (names are unique: 409 otherwise)."""
    return raters.rater_public(raters.create_rater(db, body))


@router.get("/raters", response_model=list[schemas.RaterPublic])
def read_raters(db: DbDep) -> list[schemas.RaterPublic]:
    """Every rater with their rating and preference counts, by name."""
    return [raters.rater_public(r) for r in raters.list_raters(db)]


@router.get("/feedback/quality", response_model=schemas.FeedbackQuality)
def read_feedback_quality(db: DbDep, settings: SettingsDep) -> schemas.FeedbackQuality:
    """Inter-rater agreement, per-rater figures, preference consistency and coverage."""
    return quality.feedback_quality(db, settings.readiness_min_rating)
