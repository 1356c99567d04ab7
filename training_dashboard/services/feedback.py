"""Ratings, preferences and the feedback statistics (read from running counters)."""

from __future__ import annotations

from datetime import date
from itertools import combinations

from sqlalchemy import Row, func, select, update
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import AudioSample, Preference, Prompt, Rating, RatingTag
from training_dashboard.services import agreement, coverage, queue, raters
from training_dashboard.services.counters import adapter_key, adapter_labels, bump, read_counters
from training_dashboard.services.errors import BadRequest, NotFound
from training_dashboard.services.filters import rating_clauses


def create_rating(db: Database, data: schemas.FeedbackCreate) -> Rating:
    """Store one rating of a clip, its tags, and update the counters, in one transaction."""

    def run(session: Session) -> Rating:
        # Lock order for every rating (PostgreSQL; SQLite has one writer): the clip, then the
        # raters in id order (raters.note_rating), then counters. Ratings of one clip apply in
        # turn, and two ratings can never hold each other's rows (they deadlocked before).
        sample = session.get(AudioSample, data.audio_id, with_for_update=True)
        if sample is None:
            raise NotFound(f"Audio {data.audio_id} not found")
        rater = raters.rater_name(session, data.rater_id, data.rater)
        if data.rater_id is not None:
            raters.note_rating(session, data.rater_id, data.audio_id, sample.prompt_id, data.rating)
            queue.end_lease(session, data.rater_id, data.audio_id)
        prompt = session.get(Prompt, sample.prompt_id)
        coverage.bump_coverage(session, coverage.coverage_deltas(
            prompt and prompt.style, prompt and prompt.mood, sample.adapter_id, data.tags, data.rating))
        rating = Rating(
            audio_id=data.audio_id, prompt_id=sample.prompt_id, adapter_id=sample.adapter_id, rating=data.rating,
            musicality=data.criteria.musicality, coherence=data.criteria.coherence,
            emotional_alignment=data.criteria.emotional_alignment, tags=data.tags, notes=data.notes, rater=rater,
            rater_id=data.rater_id,
        )
        session.add(rating)
        session.flush()
        session.add_all([RatingTag(tag=tag, rating_id=rating.id or 0) for tag in data.tags])
        count = session.scalar(
            update(AudioSample).where(AudioSample.id == data.audio_id)
            .values(rating_count=AudioSample.rating_count + 1).returning(AudioSample.rating_count)
        )
        key = adapter_key(sample.adapter_id)
        deltas = {f"rating.{data.rating}": 1, f"adapter.{key}.count": 1, f"adapter.{key}.sum": data.rating}
        if count == 1:
            deltas["rated_samples"] = 1
        queue.note_clip_rated(session, rating, count)
        bump(session, deltas)
        return rating

    return db.write(run)


def rating_public(r: Rating | Row) -> schemas.FeedbackPublic:  # type: ignore[type-arg]
    return schemas.FeedbackPublic(
        id=r.id or 0, audio_id=r.audio_id, prompt_id=r.prompt_id, adapter_id=r.adapter_id, rating=r.rating,
        criteria=schemas.Criteria(musicality=r.musicality, coherence=r.coherence,
                                  emotional_alignment=r.emotional_alignment),
        tags=list(r.tags or []), notes=r.notes, rater=r.rater, created_at=r.created_at, rater_id=r.rater_id,
    )


def _pair(session: Session, chosen_id: int, rejected_id: int, tie: bool, rater: str | None,
          rater_id: int | None = None) -> Preference:
    query = select(AudioSample).where(AudioSample.id.in_([chosen_id, rejected_id]))
    samples = {s.id: s for s in session.scalars(query)}
    for audio_id in (chosen_id, rejected_id):
        if audio_id not in samples:
            raise NotFound(f"Audio {audio_id} not found")
    chosen, rejected = samples[chosen_id], samples[rejected_id]
    if chosen.prompt_id != rejected.prompt_id:
        raise BadRequest(
            f"Clips {chosen_id} and {rejected_id} answer different prompts; compare clips of the same prompt"
        )
    pref = Preference(prompt_id=chosen.prompt_id, chosen_id=chosen_id, rejected_id=rejected_id, tie=tie, rater=rater,
                      rater_id=rater_id, chosen_adapter_id=chosen.adapter_id, rejected_adapter_id=rejected.adapter_id)
    session.add(pref)
    return pref


def create_preference(db: Database, data: schemas.PreferenceCreate) -> Preference:
    """Store an A/B choice (or an explicit tie) between two clips of the same prompt."""

    def run(session: Session) -> Preference:
        rater = raters.rater_name(session, data.rater_id, data.rater)
        pref = _pair(session, data.chosen_id, data.rejected_id, data.tie, rater, data.rater_id)
        session.flush()
        if data.rater_id is not None:
            raters.note_preferences(session, data.rater_id, 1)
            agreement.note_preference(session, pref)
        bump(session, {"preferences.ties" if data.tie else "preferences.pairs": 1})
        return pref

    return db.write(run)


def create_ranking(db: Database, data: schemas.RankingCreate) -> list[Preference]:
    """Store a best→worst ranking of N clips as its N·(N-1)/2 implied pairs."""

    def run(session: Session) -> list[Preference]:
        rater = raters.rater_name(session, data.rater_id, data.rater)
        prefs = [_pair(session, a, b, False, rater, data.rater_id) for a, b in combinations(data.audio_ids, 2)]
        session.flush()
        if data.rater_id is not None:
            raters.note_preferences(session, data.rater_id, len(prefs))
            for pref in prefs:  # in id order: each sees the choices made before it
                agreement.note_preference(session, pref)
        bump(session, {"preferences.pairs": len(prefs)})
        return prefs

    return db.write(run)


def preference_public(p: Preference) -> schemas.PreferencePublic:
    return schemas.PreferencePublic(id=p.id or 0, prompt_id=p.prompt_id, chosen_id=p.chosen_id,
                                    rejected_id=p.rejected_id, tie=p.tie, rater=p.rater, created_at=p.created_at,
                                    rater_id=p.rater_id)


def list_feedback(db: Database, *, audio_id: int | None, prompt_id: int | None, flt: schemas.DatasetFilter,
                  page: int, limit: int, rater_id: int | None = None) -> schemas.Page[schemas.FeedbackPublic]:
    """Ratings matching the filters (and of one rater, when given), newest first."""
    clauses = rating_clauses(flt)
    if rater_id is not None:
        clauses.append(Rating.rater_id == rater_id)
    if audio_id is not None:
        clauses.append(Rating.audio_id == audio_id)
    if prompt_id is not None:
        clauses.append(Rating.prompt_id == prompt_id)
    with db.session() as session:
        conn = session.connection()  # Core execution: no ORM layer for two plain SELECTs
        total = conn.scalar(select(func.count()).select_from(Rating).where(*clauses)) or 0
        rows = conn.execute(
            select(*Rating.__table__.columns).where(*clauses).order_by(Rating.id.desc())
            .offset((page - 1) * limit).limit(limit)
        ).all()
    # One validation call for the whole page (was two model constructions per row).
    return schemas.Page[schemas.FeedbackPublic].model_validate({"total": total, "items": [
        {"id": r.id, "audio_id": r.audio_id, "prompt_id": r.prompt_id, "adapter_id": r.adapter_id, "rating": r.rating,
         "criteria": {"musicality": r.musicality, "coherence": r.coherence,
                      "emotional_alignment": r.emotional_alignment},
         "tags": list(r.tags or []), "notes": r.notes, "rater": r.rater, "rater_id": r.rater_id,
         "created_at": r.created_at} for r in rows]})


def feedback_stats(db: Database, threshold: int, min_rating: int) -> schemas.FeedbackStats:
    """Totals, distribution, per-adapter figures and training readiness, from the counters."""
    with db.session() as session:
        counters = read_counters(session)
        keys = [n.split(".")[1] for n, v in counters.items() if n.startswith("adapter.") and n.endswith(".count") and v]
        labels = adapter_labels(session, keys)
    distribution = {str(r): counters.get(f"rating.{r}", 0) for r in range(1, 6)}
    by_adapter: dict[str, int] = {}
    avg_by_adapter: dict[str, float] = {}
    for key in keys:
        label, value = labels[key], counters[f"adapter.{key}.count"]
        by_adapter[label] = value
        avg_by_adapter[label] = round(counters.get(f"adapter.{key}.sum", 0) / value, 3)
    eligible = sum(distribution[str(r)] for r in range(min_rating, 6))
    return schemas.FeedbackStats(
        total_feedback=sum(distribution.values()),
        rating_distribution=distribution,
        samples_by_adapter=by_adapter,
        avg_rating_by_adapter=avg_by_adapter,
        preference_pairs=counters.get("preferences.pairs", 0),
        ties=counters.get("preferences.ties", 0),
        rated_samples=counters.get("rated_samples", 0),
        readiness=schemas.Readiness(threshold=threshold, min_rating=min_rating, eligible=eligible,
                                    remaining=max(0, threshold - eligible), ready=eligible >= threshold),
    )


def feedback_filter(min_rating: int | None, max_rating: int | None, adapter_id: str | None, tags: list[str],
                    start_date: date | None, end_date: date | None) -> schemas.DatasetFilter:
    """Build (and validate) a rating filter from query parameters."""
    adapter: int | str | None = adapter_id
    if adapter_id is not None and adapter_id != "base":
        adapter = schemas.parse_int(adapter_id)
        if adapter is None:
            raise BadRequest("adapter_id must be a positive integer or 'base'")
    try:
        return schemas.DatasetFilter(min_rating=min_rating, max_rating=max_rating, adapter_id=adapter,
                                     required_tags=tags, start_date=start_date, end_date=end_date)
    except ValueError as exc:
        raise BadRequest(str(exc).splitlines()[-1] if "\n" in str(exc) else str(exc)) from exc
