"""Raters: who listens. Each rating and preference may name one by ``rater_id``.

A rater's totals (ratings, their sum, distinct clips rated, preferences) and each clip's count
of distinct named raters are kept in the same transaction as the feedback, so listing raters,
counting the clips a rater has not rated and filtering clips "rated by at least n raters"
never scan the ratings.
"""

from __future__ import annotations

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import AudioSample, Preference, Rater, Rating
from training_dashboard.services.errors import BadRequest, Conflict, NotFound


def rater_public(rater: Rater) -> schemas.RaterPublic:
    return schemas.RaterPublic(id=rater.id or 0, name=rater.name, created_at=rater.created_at,
                               rating_count=rater.rating_count, preference_count=rater.preference_count)


def create_rater(db: Database, data: schemas.RaterCreate) -> Rater:
    """Add a rater.

    Raises:
        Conflict: the name is taken (names are unique, compared case-insensitively).
    """

    def run(session: Session) -> Rater:
        if session.scalar(select(Rater.id).where(func.lower(Rater.name) == data.name.lower())) is not None:
            raise Conflict(f"A rater named '{data.name}' already exists; pick it or choose another name")
        rater = Rater(name=data.name)
        session.add(rater)
        session.flush()
        return rater

    try:
        return db.write(run)
    except IntegrityError as exc:  # a concurrent create took the name between check and insert
        raise Conflict(f"A rater named '{data.name}' already exists; pick it or choose another name") from exc


def list_raters(db: Database) -> list[Rater]:
    """Every rater, by name."""
    with db.session() as session:
        return list(session.scalars(select(Rater).order_by(Rater.name, Rater.id)))


def get_rater(session: Session, rater_id: int) -> Rater:
    rater = session.get(Rater, rater_id)
    if rater is None:
        raise NotFound(f"Rater {rater_id} not found")
    return rater


def rated_among(db: Database, rater_id: int, audio_ids: list[int]) -> set[int]:
    """Which of ``audio_ids`` this rater has rated (one query)."""
    if not audio_ids:
        return set()
    with db.session() as session:
        return set(session.scalars(select(Rating.audio_id).where(
            Rating.rater_id == rater_id, Rating.audio_id.in_(sorted(set(audio_ids)))).distinct()))


def name_of(db: Database, rater_id: int) -> str:
    with db.session() as session:
        return get_rater(session, rater_id).name


def rater_name(session: Session, rater_id: int | None, rater_text: str | None) -> str | None:
    """The free-text ``rater`` stored with feedback: the rater's name when an id is given.

    Raises:
        NotFound: unknown rater id.
        BadRequest: both given and they disagree.
    """
    if rater_id is None:
        return rater_text
    rater = get_rater(session, rater_id)
    if rater_text is not None and rater_text != rater.name:
        raise BadRequest(f"rater '{rater_text}' does not match rater {rater_id} ('{rater.name}'); send one of them")
    return rater.name


def note_rating(session: Session, rater_id: int, audio_id: int, prompt_id: int, rating: int) -> None:
    """Count a rating by a known rater (call before the rating row is inserted); a rater's
    first rating of a clip also moves the agreement figures."""
    from training_dashboard.services.agreement import note_first_rating

    first = not session.scalar(select(exists().where(Rating.rater_id == rater_id, Rating.audio_id == audio_id)))
    # A first rating also moves the figures of everyone who rated the clip before: lock all of
    # those rater rows up front, in id order (the caller holds the clip's row, so the set is fixed).
    involved = {rater_id}
    if first:
        involved |= set(session.scalars(select(Rating.rater_id).where(
            Rating.audio_id == audio_id, Rating.rater_id.is_not(None)).distinct()))
    session.execute(select(Rater.id).where(Rater.id.in_(sorted(involved))).order_by(Rater.id).with_for_update())
    session.execute(update(Rater).where(Rater.id == rater_id)
                    .values(rating_count=Rater.rating_count + 1, rating_sum=Rater.rating_sum + rating,
                            clip_count=Rater.clip_count + int(first)))
    if first:
        session.execute(update(AudioSample).where(AudioSample.id == audio_id)
                        .values(rater_count=AudioSample.rater_count + 1))
        note_first_rating(session, audio_id, prompt_id, rater_id, rating)


def note_preferences(session: Session, rater_id: int, n: int) -> None:
    session.execute(update(Rater).where(Rater.id == rater_id).values(preference_count=Rater.preference_count + n))


def rebuild_rater_totals(session: Session) -> None:
    """Recompute raters' totals and clips' rater counts from the source tables (repair, bench)."""
    session.execute(update(Rater).values(rating_count=0, rating_sum=0, preference_count=0, clip_count=0))
    for rater_id, n, total, clips in session.execute(
        select(Rating.rater_id, func.count(), func.sum(Rating.rating), func.count(func.distinct(Rating.audio_id)))
        .where(Rating.rater_id.is_not(None)).group_by(Rating.rater_id)
    ).all():
        session.execute(update(Rater).where(Rater.id == rater_id)
                        .values(rating_count=n, rating_sum=int(total or 0), clip_count=clips))
    for rater_id, n in session.execute(
        select(Preference.rater_id, func.count()).where(Preference.rater_id.is_not(None)).group_by(Preference.rater_id)
    ).all():
        session.execute(update(Rater).where(Rater.id == rater_id).values(preference_count=n))
    per_clip = (select(func.count(func.distinct(Rating.rater_id))).where(Rating.audio_id == AudioSample.id)
                .scalar_subquery())
    session.execute(update(AudioSample).values(rater_count=per_clip))
