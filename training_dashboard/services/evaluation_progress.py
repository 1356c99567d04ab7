"""Evaluation progress: the status machine, brought up to date lazily by whoever reads.

``generating`` while any job is queued or running, ``voting`` once every job finished (pairs
whose job failed are left out), ``completed`` when every ready pair has ``votes_per_pair``
votes (the result is frozen then), ``cancelled`` on request. Reading an evaluation and voting
both refresh it, so the worker needs no knowledge of evaluations.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from training_dashboard.db import Database
from training_dashboard.db.models import AudioSample, Evaluation, EvaluationPair, GenerationJob, utcnow
from training_dashboard.services import stats
from training_dashboard.services.errors import NotFound

OPEN = ("generating", "voting")
PENDING_JOBS = ("queued", "processing")


def lock_evaluation(session: Session, evaluation_id: int) -> Evaluation:
    """The evaluation row, locked for this transaction on PostgreSQL (SQLite writes are serial)."""
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.id == evaluation_id).with_for_update()
    ).first()
    if evaluation is None:
        raise NotFound(f"Evaluation {evaluation_id} not found")
    return evaluation


def refresh_evaluation(session: Session, evaluation: Evaluation) -> None:
    """Link finished clips to their pairs, move generating -> voting -> completed."""
    if evaluation.status not in OPEN:
        return
    cand_job, base_job = aliased(GenerationJob), aliased(GenerationJob)
    rows = session.execute(
        select(EvaluationPair, cand_job.status, base_job.status)
        .join(cand_job, cand_job.id == EvaluationPair.candidate_job_id)
        .join(base_job, base_job.id == EvaluationPair.baseline_job_id)
        .where(EvaluationPair.evaluation_id == evaluation.id, EvaluationPair.ready.is_(False))
    ).all()
    done = [pair for pair, a, b in rows if a == "completed" and b == "completed"]
    pending = sum(1 for _, a, b in rows if a in PENDING_JOBS or b in PENDING_JOBS)
    failed = len(rows) - len(done) - pending
    if done:
        job_ids = [j for p in done for j in (p.candidate_job_id, p.baseline_job_id)]
        clip_of = dict(session.execute(
            select(AudioSample.job_id, func.min(AudioSample.id)).where(AudioSample.job_id.in_(job_ids))
            .group_by(AudioSample.job_id)
        ).all())
        for pair in done:
            pair.candidate_audio_id = clip_of.get(pair.candidate_job_id)
            pair.baseline_audio_id = clip_of.get(pair.baseline_job_id)
            pair.ready = pair.candidate_audio_id is not None and pair.baseline_audio_id is not None
        evaluation.pairs_ready += sum(1 for p in done if p.ready)
        failed += sum(1 for p in done if not p.ready)
    changed = bool(done) or evaluation.pairs_failed != failed
    evaluation.pairs_failed = failed
    if pending == 0 and evaluation.status == "generating":
        evaluation.status, changed = "voting", True
    if evaluation.status == "voting" and not session.scalar(select(exists().where(
        EvaluationPair.evaluation_id == evaluation.id, EvaluationPair.ready.is_(True),
        EvaluationPair.votes < evaluation.votes_per_pair,
    ))):
        _freeze(evaluation)
        changed = True
    if changed:
        evaluation.updated_at = utcnow()
        session.flush()


def _freeze(evaluation: Evaluation) -> None:
    result = stats.win_rate(evaluation.candidate_wins, evaluation.baseline_wins, evaluation.ties)
    evaluation.status, evaluation.finished_at = "completed", utcnow()
    evaluation.verdict, evaluation.win_rate = result.verdict, result.win_rate
    evaluation.ci_low, evaluation.ci_high, evaluation.p_value = result.ci_low, result.ci_high, result.p_value


def refresh_evaluations(db: Database, evaluation_ids: Iterable[int]) -> None:
    """Bring these evaluations up to date, each under its row lock, in one transaction."""
    ids = list(evaluation_ids)
    if not ids:
        return

    def run(session: Session) -> None:
        for evaluation_id in ids:
            refresh_evaluation(session, lock_evaluation(session, evaluation_id))

    db.write(run)
