"""Ratings, preferences and the feedback statistics (read from running counters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import combinations

from sqlalchemy import Row, func, insert, select, text
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import AudioSample, Preference, Prompt, Rater, Rating, RatingTag
from training_dashboard.services import agreement, coverage, listening, queue, raters
from training_dashboard.services.counters import adapter_key, adapter_labels, bump, read_counters
from training_dashboard.services.errors import BadRequest, NotFound
from training_dashboard.services.filters import rating_clauses
from training_dashboard.services.listening import OFF, Checked, ListenGate


@dataclass(frozen=True)
class _ClipState:
    """What a rating of a clip depends on, read in one snapshot."""

    prompt_id: int
    adapter_id: int | None
    style: str | None
    mood: str | None
    duration: float
    rating_count: int
    named: tuple[tuple[int, int], ...]  # (rater_id, rating) of its named ratings, oldest first


def _clip_state(session: Session, audio_id: int, *, lock: bool = False) -> _ClipState:
    query = (select(AudioSample.prompt_id, AudioSample.adapter_id, AudioSample.duration, AudioSample.rating_count,
                    Prompt.style, Prompt.mood)
             .join(Prompt, Prompt.id == AudioSample.prompt_id, isouter=True).where(AudioSample.id == audio_id))
    row = session.execute(query.with_for_update(of=AudioSample) if lock else query).first()
    if row is None:
        raise NotFound(f"Audio {audio_id} not found")
    named = session.execute(select(Rating.rater_id, Rating.rating).where(
        Rating.audio_id == audio_id, Rating.rater_id.is_not(None)).order_by(Rating.id)).all()
    return _ClipState(row.prompt_id, row.adapter_id, row.style, row.mood, row.duration, row.rating_count,
                      tuple((rater_id, rating) for rater_id, rating in named))


_BUMP_CLIP = ("UPDATE audio_sample SET rating_count = rating_count + 1, rater_count = rater_count + :first "
              "WHERE id = :id")
_BUMP_CLIP_IF_UNCHANGED = text(_BUMP_CLIP + " AND rating_count = :seen RETURNING rating_count")
_BUMP_CLIP_LOCKED = text(_BUMP_CLIP + " RETURNING rating_count")
_INSERT_RATING = insert(Rating).returning(Rating.id)  # built once: a statement per call costs ~90 µs
_INSERT_TAGS = insert(RatingTag)


def create_rating(db: Database, data: schemas.FeedbackCreate, gate: ListenGate = OFF) -> Rating:
    """Store one rating of a clip, its tags and listening data, and update the counters, in one
    transaction.

    The clip's prompt and earlier ratings are read before the write transaction, and the
    transaction's first statement bumps the clip's ``rating_count`` only if it is still the
    count read (optimistic: the clip's ratings are unchanged since); otherwise it reads them
    again under the clip's lock. A rating is the most frequent write, and on SQLite writers
    queue behind each other: each statement it keeps out of the write transaction shortens
    everyone's wait (``bench.write_load``; bench/README.md).

    Lock order for every rating (PostgreSQL; SQLite has one writer): the clip, then the raters
    in id order, then the counter tables, the ones every rating touches (coverage, counters)
    last. Ratings of one clip apply in turn, two ratings can never hold each other's rows, and
    the rows all ratings share stay locked for the shortest time.

    Raises:
        NotFound: unknown clip or rater.
        Unprocessable: listening data that does not fit the clip, or short of the listen ``gate``
            (imported ratings are exempt).
    """
    with db.session() as session:
        rater = raters.rater_name(session, data.rater_id, data.rater)
        seen = _clip_state(session, data.audio_id)
    checked = None
    if data.listening is not None:
        checked = listening.check(data.listening, {data.audio_id: (data.audio_id, seen.duration)}, "rating")
    if not data.imported:
        listening.enforce(gate, checked, "rating")
    stored = Rating(audio_id=data.audio_id, prompt_id=seen.prompt_id, adapter_id=seen.adapter_id, rating=data.rating,
                    musicality=data.criteria.musicality, coherence=data.criteria.coherence,
                    emotional_alignment=data.criteria.emotional_alignment, tags=data.tags, notes=data.notes,
                    rater=rater, rater_id=data.rater_id, imported=data.imported,
                    decision_ms=checked and checked.decision_ms, heard_fraction=checked and checked.heard_fraction)

    def run(session: Session) -> Rating:
        clip = seen
        first = data.rater_id is not None and all(other != data.rater_id for other, _ in clip.named)
        conn = session.connection()  # prebuilt statements on the connection: no ORM work inside the lock
        count = conn.scalar(_BUMP_CLIP_IF_UNCHANGED, {"id": data.audio_id, "first": int(first),
                                                      "seen": clip.rating_count})
        if count is None:  # another rating of the clip committed since: read again, holding the clip
            clip = _clip_state(session, data.audio_id, lock=True)
            first = data.rater_id is not None and all(other != data.rater_id for other, _ in clip.named)
            count = conn.scalar(_BUMP_CLIP_LOCKED, {"id": data.audio_id, "first": int(first)})
        before = {other for other, _ in clip.named}
        cells: agreement.Cells = {}
        figures: agreement.Figures = {}
        if data.rater_id is not None:
            if session.get_bind().dialect.name == "postgresql":
                involved = {data.rater_id} | (before if first else set())
                session.execute(select(Rater.id).where(Rater.id.in_(sorted(involved))).order_by(Rater.id)
                                .with_for_update())
            if first:
                others: dict[int, int] = {}
                for other, value in clip.named:
                    others.setdefault(other, value)
                cells, figures = agreement.first_rating_changes(session, others, clip.prompt_id, data.audio_id,
                                                                data.rater_id, data.rating)
            own = figures.setdefault(data.rater_id, {})
            for name, delta in (("rating_count", 1), ("rating_sum", data.rating), ("clip_count", int(first))):
                own[name] = own.get(name, 0) + delta
            queue.end_lease(session, data.rater_id, data.audio_id)
        stored.prompt_id, stored.adapter_id = clip.prompt_id, clip.adapter_id
        stored.id = conn.scalar(_INSERT_RATING, stored.model_dump(exclude={"id"}))
        if data.tags:
            conn.execute(_INSERT_TAGS, [{"tag": tag, "rating_id": stored.id} for tag in data.tags])
        listening.store(session, "rating", stored.id or 0, checked)
        if data.rater_id is not None and not data.imported:
            listening.note(session, data.rater_id, [checked])
        agreement.apply_changes(session, cells, figures)
        queue.note_clip_rated(session, data.rater_id, before, count)
        # Last, the rows every rating adds to: on PostgreSQL their locks are held from here to the commit.
        coverage.bump_coverage(session, coverage.coverage_deltas(clip.style, clip.mood, clip.adapter_id, data.tags,
                                                                 data.rating))
        key = adapter_key(clip.adapter_id)
        deltas = {f"rating.{data.rating}": 1, f"adapter.{key}.count": 1, f"adapter.{key}.sum": data.rating}
        if count == 1:
            deltas["rated_samples"] = 1
        bump(session, deltas)
        return stored

    return db.write(run)


def rating_public(r: Rating | Row,  # type: ignore[type-arg]
                  heard: schemas.Listening | None = None) -> schemas.FeedbackPublic:
    """A rating as the API answers it; ``heard``: the listening data it was stored with."""
    return schemas.FeedbackPublic(
        id=r.id or 0, audio_id=r.audio_id, prompt_id=r.prompt_id, adapter_id=r.adapter_id, rating=r.rating,
        criteria=schemas.Criteria(musicality=r.musicality, coherence=r.coherence,
                                  emotional_alignment=r.emotional_alignment),
        tags=list(r.tags or []), notes=r.notes, rater=r.rater, created_at=r.created_at, rater_id=r.rater_id,
        imported=r.imported, listening=listening.echo(heard, r),
    )


def _pair(session: Session, chosen_id: int, rejected_id: int, tie: bool, rater: str | None,
          rater_id: int | None = None) -> Preference:
    """A preference between two clips of one prompt (not added to the session).

    Raises:
        NotFound: an unknown clip.
        BadRequest: clips of different prompts.
    """
    query = select(AudioSample.id, AudioSample.prompt_id, AudioSample.adapter_id).where(
        AudioSample.id.in_([chosen_id, rejected_id]))
    samples = {s.id: s for s in session.execute(query)}
    for audio_id in (chosen_id, rejected_id):
        if audio_id not in samples:
            raise NotFound(f"Audio {audio_id} not found")
    chosen, rejected = samples[chosen_id], samples[rejected_id]
    if chosen.prompt_id != rejected.prompt_id:
        raise BadRequest(
            f"Clips {chosen_id} and {rejected_id} answer different prompts; compare clips of the same prompt"
        )
    return Preference(prompt_id=chosen.prompt_id, chosen_id=chosen_id, rejected_id=rejected_id, tie=tie, rater=rater,
                      rater_id=rater_id, chosen_adapter_id=chosen.adapter_id, rejected_adapter_id=rejected.adapter_id)


_INSERT_PREFERENCE = insert(Preference).returning(Preference.id)


def _listened(session: Session, data: schemas.Listening | None, audio_ids: list[int], gate: ListenGate,
              what: str) -> Checked | None:
    """Check listening data against the clips of a judgement, then the listen gate."""
    checked = None
    if data is not None:
        checked = listening.check(data, listening.clip_map(session, audio_ids), what)
    listening.enforce(gate, checked, what)
    return checked


def _with_listening(session: Session, pref: Preference, checked: Checked | None, reason: str | None) -> None:
    pref.decision_ms = checked and checked.decision_ms
    pref.heard_fraction = checked and checked.heard_fraction
    pref.reason = reason or None
    session.flush()
    listening.store(session, "preference", pref.id or 0, checked)


def create_preference(db: Database, data: schemas.PreferenceCreate, gate: ListenGate = OFF) -> Preference:
    """Store an A/B choice (or an explicit tie) between two clips of the same prompt, with its
    listening data and reason.

    The clips and the rater are read and the listening data checked before the write
    transaction (they do not change), so only the inserts and the figures they move hold the
    write lock (see :func:`create_rating`).

    Raises:
        NotFound: unknown clip or rater.
        BadRequest: the clips answer different prompts.
        Unprocessable: listening data that does not fit the two clips, or short of the listen ``gate``.
    """
    with db.session() as session:
        rater = raters.rater_name(session, data.rater_id, data.rater)
        pref = _pair(session, data.chosen_id, data.rejected_id, data.tie, rater, data.rater_id)
        checked = _listened(session, data.listening, [data.chosen_id, data.rejected_id], gate, "preference")
    pref.decision_ms = checked and checked.decision_ms
    pref.heard_fraction = checked and checked.heard_fraction
    pref.reason = data.reason or None

    def run(session: Session) -> Preference:
        pref.id = session.connection().scalar(_INSERT_PREFERENCE, pref.model_dump(exclude={"id"}))
        listening.store(session, "preference", pref.id or 0, checked)
        if data.rater_id is not None:
            figures = agreement.preference_changes(session, pref)
            figures["preference_count"] += 1
            agreement.apply_changes(session, {}, {data.rater_id: figures})
            listening.note(session, data.rater_id, [checked])
        bump(session, {"preferences.ties" if data.tie else "preferences.pairs": 1})
        return pref

    return db.write(run)


def create_ranking(db: Database, data: schemas.RankingCreate, gate: ListenGate = OFF) -> list[Preference]:
    """Store a best→worst ranking of N clips as its N·(N-1)/2 implied pairs; each pair keeps the
    listening data of its two clips (and the ranking's decision time and reason)."""

    def run(session: Session) -> list[Preference]:
        rater = raters.rater_name(session, data.rater_id, data.rater)
        prefs = [_pair(session, a, b, False, rater, data.rater_id) for a, b in combinations(data.audio_ids, 2)]
        session.add_all(prefs)
        checked = _listened(session, data.listening, list(data.audio_ids), gate, "ranking")
        parts = [checked and checked.subset([p.chosen_id, p.rejected_id]) for p in prefs]
        for pref, part in zip(prefs, parts, strict=True):
            _with_listening(session, pref, part, data.reason)
        if data.rater_id is not None:
            raters.note_preferences(session, data.rater_id, len(prefs))
            for pref in prefs:  # in id order: each sees the choices made before it
                agreement.note_preference(session, pref)
            listening.note(session, data.rater_id, parts)
        bump(session, {"preferences.pairs": len(prefs)})
        return prefs

    return db.write(run)


def preference_public(p: Preference, heard: schemas.Listening | None = None) -> schemas.PreferencePublic:
    """A preference as the API answers it; ``heard``: the listening data it was stored with
    (a ranking's: the pair's two clips are picked from it)."""
    return schemas.PreferencePublic(id=p.id or 0, prompt_id=p.prompt_id, chosen_id=p.chosen_id,
                                    rejected_id=p.rejected_id, tie=p.tie, rater=p.rater, created_at=p.created_at,
                                    rater_id=p.rater_id, reason=p.reason,
                                    listening=listening.echo(heard, p, [p.chosen_id, p.rejected_id]))


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
        heard = listening.stored(session, "rating", {r.id: (r.decision_ms, r.heard_fraction) for r in rows})
    # One validation call for the whole page (was two model constructions per row).
    return schemas.Page[schemas.FeedbackPublic].model_validate({"total": total, "items": [
        {"id": r.id, "audio_id": r.audio_id, "prompt_id": r.prompt_id, "adapter_id": r.adapter_id, "rating": r.rating,
         "criteria": {"musicality": r.musicality, "coherence": r.coherence,
                      "emotional_alignment": r.emotional_alignment},
         "tags": list(r.tags or []), "notes": r.notes, "rater": r.rater, "rater_id": r.rater_id,
         "created_at": r.created_at, "imported": r.imported, "listening": heard.get(r.id)} for r in rows]})


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
