"""How an evaluation's listeners listened: per-listener figures, the verdict from attentive
votes only, and each pair's votes unblinded (with reasons) once the evaluation is complete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Evaluation, EvaluationPair, EvaluationVote, Prompt, Rater
from training_dashboard.services import stats
from training_dashboard.services.errors import Conflict, NotFound
from training_dashboard.services.listening_stats import RaterFigures, vote_figures


def listener_fields(session: Session, evaluation_id: int) -> dict[int, dict[str, Any]]:
    """Per listener (rater id): the listening fields of ``schemas.RaterTally``."""
    return {rater_id: _fields(f) for rater_id, f in vote_figures(session, evaluation_id).items()}


def _fields(f: RaterFigures) -> dict[str, Any]:
    return {"listened": f.listened, "median_heard": f.median_heard, "fast_share": f.fast_share,
            "unattentive": f.unattentive}


def attentive_result(session: Session, evaluation_id: int, min_heard: float) -> schemas.AttentiveResult:
    """The verdict from votes whose least-heard clip reached ``min_heard`` of its duration
    (votes without listening data are left out); the same statistics as the full result."""
    tally = {"candidate": 0, "baseline": 0, "tie": 0}
    dropped = 0
    for winner, fraction in session.execute(
        select(EvaluationVote.winner, EvaluationVote.heard_fraction)
        .where(EvaluationVote.evaluation_id == evaluation_id, EvaluationVote.winner.is_not(None))
    ):
        if fraction is not None and fraction >= min_heard:
            tally[winner] += 1
        else:
            dropped += 1
    win = stats.win_rate(tally["candidate"], tally["baseline"], tally["tie"])
    return schemas.AttentiveResult(min_heard=min_heard, votes=sum(tally.values()), dropped=dropped,
                                   **stats.verdict_fields(win))


def pair_details(db: Database, evaluation_id: int) -> list[schemas.EvaluationPairDetail]:
    """Every pair with its votes unblinded: the winner, the side played first, the reason and
    how the listener listened. Only once the evaluation is complete (votes are blind until then).

    Raises:
        NotFound: unknown evaluation.
        Conflict: the evaluation is not complete.
    """
    with db.session() as session:
        evaluation = session.get(Evaluation, evaluation_id)
        if evaluation is None:
            raise NotFound(f"Evaluation {evaluation_id} not found")
        if evaluation.status != "completed":
            raise Conflict(f"Evaluation {evaluation_id} is {evaluation.status}: its pairs and reasons are shown "
                           "once it is complete")
        votes: dict[int, list[schemas.PairVote]] = {}
        for vote, name in session.execute(
            select(EvaluationVote, Rater.name).join(Rater, Rater.id == EvaluationVote.rater_id)
            .where(EvaluationVote.evaluation_id == evaluation_id, EvaluationVote.winner.is_not(None))
            .order_by(EvaluationVote.id)
        ).all():
            votes.setdefault(vote.pair_id, []).append(schemas.PairVote(
                rater_id=vote.rater_id, name=name, winner=vote.winner, candidate_first=vote.candidate_first,
                reason=vote.reason, heard_fraction=vote.heard_fraction, decision_ms=vote.decision_ms))
        return [schemas.EvaluationPairDetail(
            pair_id=pair.id or 0, position=pair.position, prompt_id=pair.prompt_id, prompt_text=text,
            candidate_audio_id=pair.candidate_audio_id, baseline_audio_id=pair.baseline_audio_id,
            votes=votes.get(pair.id or 0, []),
        ) for pair, text in session.execute(
            select(EvaluationPair, Prompt.text).join(Prompt, Prompt.id == EvaluationPair.prompt_id)
            .where(EvaluationPair.evaluation_id == evaluation_id).order_by(EvaluationPair.position)
        ).all()]
