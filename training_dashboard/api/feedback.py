from __future__ import annotations

from datetime import date
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query

from training_dashboard import schemas
from training_dashboard.api.deps import (
    AS_RATER,
    DbDep,
    LimitQ,
    PageQ,
    RaterDep,
    SettingsDep,
    acting_rater,
    require_role,
)
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import feedback, raters
from training_dashboard.services.errors import Forbidden
from training_dashboard.services.principal import Principal

router = APIRouter(tags=["feedback"], dependencies=AS_RATER)
B = TypeVar("B", schemas.FeedbackCreate, schemas.PreferenceCreate, schemas.RankingCreate)


def as_signed_in_rater(db, principal: Principal, body: B) -> B:  # type: ignore[no-untyped-def]
    """With sign-in on, feedback is the signed-in user's: a body naming another rater (by id or name) is 403."""
    if principal.via == "off":
        return body
    rater_id = acting_rater(principal, body.rater_id) or 0
    if body.rater is not None and body.rater.strip().lower() != raters.name_of(db, rater_id).strip().lower():
        raise Forbidden("You can only rate as yourself: this names another rater")
    return body.model_copy(update={"rater_id": rater_id, "rater": None})


@router.post("/feedback", status_code=201, response_model=schemas.FeedbackPublic)
def create_feedback(body: schemas.FeedbackCreate, db: DbDep, principal: RaterDep) -> schemas.FeedbackPublic:
    """Rate a clip 1-5 with optional criteria, tags and notes (as the signed-in user's rater)."""
    return feedback.rating_public(feedback.create_rating(db, as_signed_in_rater(db, principal, body)))


@router.get("/feedback/stats", response_model=schemas.FeedbackStats, dependencies=[Depends(require_role("trainer"))])
def read_feedback_stats(db: DbDep, settings: SettingsDep) -> schemas.FeedbackStats:
    """Totals, rating distribution, per-adapter figures and training readiness."""
    return feedback.feedback_stats(db, settings.readiness_threshold, settings.readiness_min_rating)


@router.get("/feedback", response_model=schemas.Page[schemas.FeedbackPublic])
def read_feedback(
    db: DbDep,
    principal: RaterDep,
    page: PageQ = 1,
    limit: LimitQ = 50,
    audio_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    prompt_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    adapter_id: Annotated[str | None, Query(max_length=20, description="an adapter id or 'base'")] = None,
    min_rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    max_rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    tags: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 - FastAPI copies defaults
    start_date: date | None = None,
    end_date: date | None = None,
) -> schemas.Page[schemas.FeedbackPublic]:
    """Ratings matching the filters (every tag required), newest first; a rater sees their own only."""
    flt = feedback.feedback_filter(min_rating, max_rating, adapter_id, tags, start_date, end_date)
    own = None if principal.has("trainer") else principal.rater_id
    return feedback.list_feedback(db, audio_id=audio_id, prompt_id=prompt_id, flt=flt, page=page, limit=limit,
                                  rater_id=own)


@router.post("/preferences", status_code=201, response_model=schemas.PreferencePublic)
def create_preference(body: schemas.PreferenceCreate, db: DbDep, principal: RaterDep) -> schemas.PreferencePublic:
    """Record an A/B choice (or a tie) between two clips of the same prompt."""
    return feedback.preference_public(feedback.create_preference(db, as_signed_in_rater(db, principal, body)))


@router.post("/preferences/ranking", status_code=201, response_model=list[schemas.PreferencePublic])
def create_ranking(body: schemas.RankingCreate, db: DbDep, principal: RaterDep) -> list[schemas.PreferencePublic]:
    """Record a best-to-worst ranking of clips as its implied pairs."""
    body = as_signed_in_rater(db, principal, body)
    return [feedback.preference_public(p) for p in feedback.create_ranking(db, body)]
