"""Listening and voting in a blind evaluation.

Each ready pair is served to each rater with the side played first drawn per pair and rater
and recorded before the rater hears it; stream URLs name a pair and a slot, never a clip. A
vote counts for the candidate, the baseline or neither (tie); every non-tie vote is also a
preference pair (``preference.evaluation_id``), so it feeds DPO datasets and the leaderboard.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Evaluation, EvaluationPair, EvaluationVote, Preference, Prompt, utcnow
from training_dashboard.services import listening, raters
from training_dashboard.services.counters import bump
from training_dashboard.services.errors import Conflict, NotFound
from training_dashboard.services.evaluation_progress import OPEN, lock_evaluation, refresh_evaluation
from training_dashboard.services.listening import OFF, Checked, ListenGate

SlotUrl = Callable[[int, int, int, str], str]  # (evaluation_id, pair_id, rater_id, "first"|"second") -> URL


def rater_sides(seed: int, rater_id: int, n: int) -> list[bool]:
    """Whether the candidate plays first, per pair position, for one rater: exactly half of the
    pairs each way (the odd one drawn), shuffled with a generator seeded by the evaluation and
    the rater, so two raters hear the same pair in independent orders."""
    rng = random.Random(f"{seed}:{rater_id}:sides")
    sides = [True] * (n // 2) + [False] * (n // 2)
    if n % 2:
        sides.append(rng.random() < 0.5)
    rng.shuffle(sides)
    return sides


def rater_order(seed: int, rater_id: int, n: int) -> list[int]:
    """The order in which one rater hears the pairs (positions), shuffled per rater."""
    order = list(range(n))
    random.Random(f"{seed}:{rater_id}:order").shuffle(order)
    return order


def next_pair(db: Database, evaluation_id: int, rater_id: int, slot_url: SlotUrl) -> schemas.EvaluationPairBlind | None:
    """The next ready pair this rater has not voted on, sides assigned and recorded; None when
    there is none (every ready pair voted, or the evaluation completed or was cancelled).

    Raises:
        NotFound: unknown evaluation or rater.
    """

    def run(session: Session) -> schemas.EvaluationPairBlind | None:
        evaluation = lock_evaluation(session, evaluation_id)
        raters.get_rater(session, rater_id)
        refresh_evaluation(session, evaluation)
        if evaluation.status not in OPEN:
            return None
        views = {v.pair_id: v for v in session.scalars(select(EvaluationVote).where(
            EvaluationVote.evaluation_id == evaluation_id, EvaluationVote.rater_id == rater_id))}
        ready = {p.position: p for p in session.scalars(select(EvaluationPair).where(
            EvaluationPair.evaluation_id == evaluation_id, EvaluationPair.ready.is_(True)))}
        voted = sum(1 for v in views.values() if v.choice is not None)
        chosen = None
        for position in rater_order(evaluation.seed, rater_id, evaluation.pairs_total):
            pair = ready.get(position)
            if pair is None:
                continue
            view = views.get(pair.id or 0)
            if view is None or view.choice is None:
                chosen = pair
                break
        if chosen is None:
            return None
        if chosen.id not in views:
            side = rater_sides(evaluation.seed, rater_id, evaluation.pairs_total)[chosen.position]
            session.add(EvaluationVote(evaluation_id=evaluation_id, pair_id=chosen.id or 0, rater_id=rater_id,
                                       candidate_first=side))
            session.flush()
        prompt = session.get(Prompt, chosen.prompt_id)
        assert prompt is not None
        return schemas.EvaluationPairBlind(
            evaluation_id=evaluation_id, pair_id=chosen.id or 0, prompt_text=prompt.text,
            first=schemas.EvaluationClip(stream_url=slot_url(evaluation_id, chosen.id or 0, rater_id, "first")),
            second=schemas.EvaluationClip(stream_url=slot_url(evaluation_id, chosen.id or 0, rater_id, "second")),
            voted=voted, ready=len(ready),
        )

    try:
        return db.write(run)
    except IntegrityError:  # the same rater asked twice at once: the other request recorded the sides
        return db.write(run)


def rater_progress(db: Database, evaluation_id: int, rater_id: int) -> schemas.RaterProgress:
    """How many pairs this rater has voted on, of how many ready."""
    with db.session() as session:
        evaluation = session.get(Evaluation, evaluation_id)
        if evaluation is None:
            raise NotFound(f"Evaluation {evaluation_id} not found")
        raters.get_rater(session, rater_id)
        voted = session.scalar(select(func.count()).select_from(EvaluationVote).where(
            EvaluationVote.evaluation_id == evaluation_id, EvaluationVote.rater_id == rater_id,
            EvaluationVote.choice.is_not(None))) or 0
        return schemas.RaterProgress(evaluation_id=evaluation_id, rater_id=rater_id,
                                     status=evaluation.status, voted=voted,  # type: ignore[arg-type]
                                     ready=evaluation.pairs_ready, pairs_total=evaluation.pairs_total)


def slot_clip(db: Database, evaluation_id: int, pair_id: int, rater_id: int, slot: str) -> int:
    """The clip a rater hears in ``slot`` ("first" or "second") of a pair served to them.

    Raises:
        NotFound: unknown pair, or the pair was never served to this rater.
    """
    with db.session() as session:
        row = session.execute(
            select(EvaluationVote.candidate_first, EvaluationPair.candidate_audio_id, EvaluationPair.baseline_audio_id)
            .join(EvaluationPair, EvaluationPair.id == EvaluationVote.pair_id)
            .where(EvaluationVote.pair_id == pair_id, EvaluationVote.rater_id == rater_id,
                   EvaluationVote.evaluation_id == evaluation_id)
        ).first()
    if row is None or row.candidate_audio_id is None or row.baseline_audio_id is None:
        raise NotFound(f"Pair {pair_id} of evaluation {evaluation_id} was not served to rater {rater_id}")
    candidate_heard = row.candidate_first == (slot == "first")
    return row.candidate_audio_id if candidate_heard else row.baseline_audio_id


def _vote_listening(session: Session, data: schemas.EvaluationVoteCreate, pair: EvaluationPair,
                    candidate_first: bool, gate: ListenGate) -> Checked | None:
    """The vote's listening data checked against the two slots as this rater heard them, then the gate."""
    checked = None
    if data.listening is not None:
        first, second = ((pair.candidate_audio_id, pair.baseline_audio_id) if candidate_first
                         else (pair.baseline_audio_id, pair.candidate_audio_id))
        found = listening.durations(session, [first or 0, second or 0])
        slots: dict[int | str, tuple[int, float]] = {"first": (first or 0, found.get(first or 0, 0.0)),
                                                     "second": (second or 0, found.get(second or 0, 0.0))}
        checked = listening.check(data.listening, slots, "vote")
    listening.enforce(gate, checked, "vote")
    return checked


def cast_vote(db: Database, evaluation_id: int, data: schemas.EvaluationVoteCreate,
              gate: ListenGate = OFF) -> EvaluationVote:
    """Record one rater's vote on one pair (once) with its listening data and reason, count it,
    store a non-tie vote as a preference (carrying the same listening figures and reason).

    Raises:
        NotFound: unknown evaluation, pair (of this evaluation) or rater.
        Conflict: the evaluation is not open, the pair was not served to this rater, or the
            rater already voted on it.
        Unprocessable: listening data that does not fit the pair, or short of the listen ``gate``.
    """

    def run(session: Session) -> EvaluationVote:
        evaluation = lock_evaluation(session, evaluation_id)
        pair = session.get(EvaluationPair, data.pair_id)
        if pair is None or pair.evaluation_id != evaluation_id:
            raise NotFound(f"Pair {data.pair_id} not found in evaluation {evaluation_id}")
        rater = raters.get_rater(session, data.rater_id)
        if evaluation.status not in OPEN:
            raise Conflict(f"Evaluation {evaluation_id} is {evaluation.status}: it takes no more votes")
        view = session.scalars(select(EvaluationVote).where(EvaluationVote.pair_id == pair.id,
                                                            EvaluationVote.rater_id == rater.id)).first()
        if view is None:
            raise Conflict(f"Pair {pair.id} was not served to rater {rater.id}: "
                           f"GET /api/evaluations/{evaluation_id}/next first")
        checked = _vote_listening(session, data, pair, view.candidate_first, gate)
        heard = {"decision_ms": checked and checked.decision_ms, "heard_fraction": checked and checked.heard_fraction,
                 "reason": data.reason or None}
        now = utcnow()
        claimed = session.execute(update(EvaluationVote).where(EvaluationVote.id == view.id,
                                                               EvaluationVote.choice.is_(None))
                                  .values(choice=data.choice, voted_at=now, **heard)).rowcount
        if not claimed:
            raise Conflict(f"Rater {rater.id} already voted on pair {pair.id}")
        first_is_candidate = view.candidate_first
        if data.choice == "tie":
            winner = "tie"
        else:
            winner = "candidate" if (data.choice == "first") == first_is_candidate else "baseline"
        preference_id = None
        if winner != "tie":
            chosen, rejected = ((pair.candidate_audio_id, pair.baseline_audio_id) if winner == "candidate"
                                else (pair.baseline_audio_id, pair.candidate_audio_id))
            chosen_adapter, rejected_adapter = ((evaluation.candidate_id, evaluation.baseline_id)
                                                if winner == "candidate"
                                                else (evaluation.baseline_id, evaluation.candidate_id))
            preference = Preference(prompt_id=pair.prompt_id, chosen_id=chosen or 0, rejected_id=rejected or 0,
                                    chosen_adapter_id=chosen_adapter, rejected_adapter_id=rejected_adapter, tie=False,
                                    rater=rater.name, rater_id=rater.id, evaluation_id=evaluation_id, created_at=now,
                                    **heard)
            session.add(preference)
            session.flush()
            preference_id = preference.id
            raters.note_preferences(session, rater.id or 0, 1)
            bump(session, {"preferences.pairs": 1})
        session.execute(update(EvaluationVote).where(EvaluationVote.id == view.id)
                        .values(winner=winner, preference_id=preference_id))
        listening.store(session, "vote", view.id or 0, checked)
        listening.note(session, rater.id or 0, [checked])
        pair.votes += 1
        evaluation.votes += 1
        if winner == "tie":
            evaluation.ties += 1
        else:
            evaluation.candidate_wins += winner == "candidate"
            evaluation.baseline_wins += winner == "baseline"
            evaluation.first_wins += data.choice == "first"
        evaluation.updated_at = now
        session.flush()
        refresh_evaluation(session, evaluation)
        session.refresh(view)
        return view

    return db.write(run)
