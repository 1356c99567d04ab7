"""Per-rater listening figures for the quality report and an evaluation's listeners.

For each rater, over their judgements (ratings that were not imported, studio preferences,
blind votes; a ranking counts once per implied pair):

- ``median_heard``: the median, over every clip of every judgement with listening data, of the
  share of the clip heard, each share first floored to a whole percent (the running counts
  keep one number per percent); None without listening data;
- ``fast_share``: of the judgements with a decision time, the share decided in less time than
  the shortest of their clips lasts; None when none was timed;
- ``unattentive``: more than half of the judgements are *not attentive*, i.e. came without
  listening data or with a least-heard clip under half heard (``heard_fraction < 0.5``).

The quality report reads them from ``rater_listening`` and ``heard_count`` (kept in each
judgement's transaction); :func:`direct_listening` recomputes the same from the raw rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from training_dashboard.db.models import (
    AudioSample,
    EvaluationVote,
    HeardCount,
    Listening,
    Preference,
    RaterListening,
    Rating,
)
from training_dashboard.services.listening import ATTENTIVE, clip_fraction, heard_percent


@dataclass
class RaterFigures:
    judgements: int = 0
    listened: int = 0
    attentive: int = 0
    timed: int = 0
    fast: int = 0
    heard: dict[int, int] = field(default_factory=dict)  # percent -> clips

    @property
    def median_heard(self) -> float | None:
        return median_percent(self.heard)

    @property
    def fast_share(self) -> float | None:
        return round(self.fast / self.timed, 4) if self.timed else None

    @property
    def unattentive(self) -> bool:
        return 2 * (self.judgements - self.attentive) > self.judgements

    def add(self, heard_fraction: float | None, decision_ms: int | None, clips: list[tuple[float, float]]) -> None:
        """Count one judgement: ``clips`` as (heard seconds, stored duration)."""
        self.judgements += 1
        if heard_fraction is None:
            return
        self.listened += 1
        self.attentive += heard_fraction >= ATTENTIVE
        if decision_ms is not None:
            self.timed += 1
            self.fast += bool(clips) and decision_ms < 1000 * min(d for _, d in clips)
        for heard_s, duration in clips:
            percent = heard_percent(clip_fraction(heard_s, duration))
            self.heard[percent] = self.heard.get(percent, 0) + 1


def median_percent(counts: dict[int, int]) -> float | None:
    """The median of values given as {percent: how many}, as a fraction (two middle values averaged)."""
    n = sum(counts.values())
    if n == 0:
        return None
    middle = [(n - 1) // 2, n // 2]
    found: list[int] = []
    seen = 0
    for percent in sorted(counts):
        seen += counts[percent]
        while len(found) < 2 and middle[len(found)] < seen:
            found.append(percent)
    return round((found[0] + found[1]) / 200, 4)


def stored_listening(session: Session) -> dict[int, RaterFigures]:
    """Every rater's figures as kept incrementally (one row per rater, at most 101 counts each)."""
    out: dict[int, RaterFigures] = {}
    for row in session.scalars(select(RaterListening)):
        out[row.rater_id] = RaterFigures(row.judgements, row.listened, row.attentive, row.timed, row.fast)
    for rater_id, percent, n in session.execute(select(HeardCount.rater_id, HeardCount.percent, HeardCount.count)):
        out.setdefault(rater_id, RaterFigures()).heard[percent] = int(n)
    return out


def _clips(session: Session, kind: str, ids: Iterable[int] | None = None) -> dict[int, list[tuple[float, float]]]:
    query = (select(Listening.judgement_id, Listening.heard_s, AudioSample.duration)
             .join(AudioSample, AudioSample.id == Listening.audio_id).where(Listening.kind == kind)
             .order_by(Listening.id))
    if ids is not None:
        query = query.where(Listening.judgement_id.in_(list(ids)))
    out: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for judgement_id, heard_s, duration in session.execute(query):
        out[judgement_id].append((heard_s, duration))
    return out


def direct_listening(session: Session) -> dict[int, RaterFigures]:
    """The same figures recomputed from the judgement and listening rows (exactness, repair);
    streamed in judgement order, so a million ratings never sit in memory."""
    out: dict[int, RaterFigures] = defaultdict(RaterFigures)
    sources: tuple[tuple[str, Any, Any], ...] = (
        ("rating", Rating, (Rating.rater_id.is_not(None), Rating.imported.is_(False))),
        ("preference", Preference, (Preference.rater_id.is_not(None), Preference.evaluation_id.is_(None))),
        ("vote", EvaluationVote, (EvaluationVote.choice.is_not(None),)),
    )
    for kind, table, where in sources:
        query = (select(table.id, table.rater_id, table.heard_fraction, table.decision_ms, Listening.heard_s,
                        AudioSample.duration)
                 .outerjoin(Listening, (Listening.kind == kind) & (Listening.judgement_id == table.id))
                 .outerjoin(AudioSample, AudioSample.id == Listening.audio_id)
                 .where(*where).order_by(table.id, Listening.id))
        current: tuple[int, int, float | None, int | None] | None = None
        clips: list[tuple[float, float]] = []
        # yield_per on the statement, not the connection: the connection's later statements (a
        # rebuild's DELETEs) must not run through a server-side cursor on PostgreSQL.
        for judgement_id, rater_id, fraction, decision_ms, heard_s, duration in (
                session.connection().execute(query.execution_options(yield_per=5000))):
            if current is not None and current[0] != judgement_id:
                out[current[1]].add(current[2], current[3], clips)
                clips = []
            current = (judgement_id, rater_id, fraction, decision_ms)
            if heard_s is not None:
                clips.append((heard_s, duration))
        if current is not None:
            out[current[1]].add(current[2], current[3], clips)
    return dict(out)


def vote_figures(session: Session, evaluation_id: int) -> dict[int, RaterFigures]:
    """Each listener's figures over their votes in one evaluation."""
    votes = session.execute(select(EvaluationVote.id, EvaluationVote.rater_id, EvaluationVote.heard_fraction,
                                   EvaluationVote.decision_ms)
                            .where(EvaluationVote.evaluation_id == evaluation_id,
                                   EvaluationVote.choice.is_not(None))).all()
    clips = _clips(session, "vote", [v.id for v in votes if v.heard_fraction is not None])
    out: dict[int, RaterFigures] = defaultdict(RaterFigures)
    for vote_id, rater_id, fraction, decision_ms in votes:
        out[rater_id].add(fraction, decision_ms, clips.get(vote_id, []))
    return dict(out)


def rebuild_listening(session: Session) -> None:
    """Recompute ``rater_listening`` and ``heard_count`` from the rows (bench, repair)."""
    figures = direct_listening(session)
    session.execute(delete(HeardCount))
    session.execute(delete(RaterListening))
    rows = [{"rater_id": r, "judgements": f.judgements, "listened": f.listened, "attentive": f.attentive,
             "timed": f.timed, "fast": f.fast} for r, f in sorted(figures.items())]
    if rows:
        session.execute(RaterListening.__table__.insert(), rows)
    counts = [{"rater_id": r, "percent": p, "count": n} for r, f in sorted(figures.items())
              for p, n in sorted(f.heard.items())]
    if counts:
        session.execute(HeardCount.__table__.insert(), counts)

