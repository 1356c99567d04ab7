from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, LimitQ, PageQ, SettingsDep
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import feedback, listening

router = APIRouter(tags=["feedback"])


@router.post("/feedback", status_code=201, response_model=schemas.FeedbackPublic)
def create_feedback(body: schemas.FeedbackCreate, db: DbDep, settings: SettingsDep) -> schemas.FeedbackPublic:
    """Rate a clip 1-5 with optional criteria, tags, notes and listening data."""
    rating = feedback.create_rating(db, body, listening.gate_of(settings))
    return feedback.rating_public(rating, body.listening)


@router.get("/feedback/stats", response_model=schemas.FeedbackStats)
def read_feedback_stats(db: DbDep, settings: SettingsDep) -> schemas.FeedbackStats:
    """Totals, rating distribution, per-adapter figures and training readiness."""
    return feedback.feedback_stats(db, settings.readiness_threshold, settings.readiness_min_rating)


@router.get("/feedback", response_model=schemas.Page[schemas.FeedbackPublic])
def read_feedback(
    db: DbDep,
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
    """Ratings matching the filters (every tag required), newest first."""
    flt = feedback.feedback_filter(min_rating, max_rating, adapter_id, tags, start_date, end_date)
    return feedback.list_feedback(db, audio_id=audio_id, prompt_id=prompt_id, flt=flt, page=page, limit=limit)


@router.post("/preferences", status_code=201, response_model=schemas.PreferencePublic)
def create_preference(body: schemas.PreferenceCreate, db: DbDep, settings: SettingsDep) -> schemas.PreferencePublic:
    """Record an A/B choice (or a tie) between two clips of the same prompt, with listening data and a reason."""
    pref = feedback.create_preference(db, body, listening.gate_of(settings))
    return feedback.preference_public(pref, body.listening)


@router.post("/preferences/ranking", status_code=201, response_model=list[schemas.PreferencePublic])
def create_ranking(body: schemas.RankingCreate, db: DbDep, settings: SettingsDep) -> list[schemas.PreferencePublic]:
    """Record a best-to-worst ranking of clips as its implied pairs."""
    prefs = feedback.create_ranking(db, body, listening.gate_of(settings))
    return [feedback.preference_public(p, body.listening) for p in prefs]
