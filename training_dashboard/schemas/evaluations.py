"""Blind evaluations (a candidate against a baseline) and the activation request they gate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from training_dashboard.schemas.common import MAX_SEED, CleanStr, Id, Model, UTCDateTime
from training_dashboard.schemas.listening import ListeningPublic, Reason, VoteListening

EvaluationStatus = Literal["generating", "voting", "completed", "cancelled"]
VoteChoice = Literal["first", "second", "tie"]
MAX_REASON_CHARS = 500


class EvaluationCreate(Model):
    candidate_id: Id
    baseline_id: Id | None = None  # None: the base model
    num_prompts: Annotated[int, Field(ge=5, le=200, strict=True)] = 20
    prompt_ids: Annotated[list[Id], Field(min_length=5, max_length=200)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED, strict=True)] | None = None
    votes_per_pair: Annotated[int, Field(ge=1, le=20, strict=True)] = 1
    duration: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False)] = 5.0

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationCreate:
        if self.baseline_id is not None and self.baseline_id == self.candidate_id:
            raise ValueError("baseline_id must differ from candidate_id (null compares with the base model)")
        if self.prompt_ids is not None:
            if len(set(self.prompt_ids)) != len(self.prompt_ids):
                raise ValueError("prompt_ids lists a prompt more than once")
            if "num_prompts" in self.model_fields_set and self.num_prompts != len(self.prompt_ids):
                raise ValueError("num_prompts must equal the number of prompt_ids (or be left out)")
            self.num_prompts = len(self.prompt_ids)
        return self


class EvaluationPublic(Model):
    id: int
    candidate_id: int
    baseline_id: int | None
    candidate_label: str
    baseline_label: str
    status: EvaluationStatus
    pairs_total: int
    pairs_ready: int
    pairs_failed: int
    clips_ready: int
    votes: int
    votes_per_pair: int
    seed: int
    params: dict[str, Any]
    verdict: Literal["better", "worse", "inconclusive"] | None  # frozen once completed
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    candidate_wins: int  # live tallies; the verdict fields above are frozen at completion
    baseline_wins: int
    ties: int
    created_at: UTCDateTime
    finished_at: UTCDateTime | None
    created_by: int | None = None  # the user who started it


class RaterTally(Model):
    """One listener's votes, and how they listened (defined as in the feedback quality report)."""

    rater_id: int
    name: str
    candidate_wins: int
    baseline_wins: int
    ties: int
    listened: int = 0  # votes with listening data
    median_heard: float | None = None
    fast_share: float | None = None
    unattentive: bool = False


class Verdict(Model):
    """Ties are excluded from the win rate; the interval is Wilson's at 95%, the p-value the
    two-sided exact binomial (sign) test against 0.5 (``services.stats.win_rate``)."""

    candidate_wins: int
    baseline_wins: int
    ties: int
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: Literal["better", "worse", "inconclusive"]


class AttentiveResult(Verdict):
    """The verdict recomputed from attentive votes only: those with listening data whose
    least-heard clip reached ``min_heard`` of its duration (same statistics as the full result)."""

    min_heard: float
    votes: int  # attentive votes counted
    dropped: int  # votes left out (no listening data, or heard less)


class EvaluationResult(Verdict):
    """The verdict from every vote (see :class:`Verdict`); provisional until the status is completed."""

    final: bool
    first_side_share: float | None  # share of non-tie votes for the clip played first
    first_side_ci_low: float | None
    first_side_ci_high: float | None
    per_rater: list[RaterTally]


class EvaluationDetail(EvaluationPublic):
    prompt_ids: list[int]
    result: EvaluationResult
    attentive: AttentiveResult | None = None  # with ?min_heard=


class PairVote(Model):
    """One vote on a pair, unblinded (shown once the evaluation is complete)."""

    rater_id: int
    name: str
    winner: Literal["candidate", "baseline", "tie"]
    candidate_first: bool
    reason: str | None
    heard_fraction: float | None
    decision_ms: int | None


class EvaluationPairDetail(Model):
    pair_id: int
    position: int
    prompt_id: int
    prompt_text: str
    candidate_audio_id: int | None
    baseline_audio_id: int | None
    votes: list[PairVote]


class EvaluationClip(Model):
    stream_url: str


class EvaluationPairBlind(Model):
    """A pair for one rater: nothing in it names or hints at the model behind either clip."""

    evaluation_id: int
    pair_id: int
    prompt_text: str
    first: EvaluationClip
    second: EvaluationClip
    voted: int  # this rater's votes in this evaluation
    ready: int  # pairs with both clips


class EvaluationVoteCreate(Model):
    pair_id: Id
    rater_id: Id | None = None  # sign-in on: the signed-in user's rater (another is 403); off: required
    choice: VoteChoice
    listening: VoteListening | None = None  # both slots; required while the listen gate is on
    reason: Reason | None = None


class EvaluationVotePublic(Model):
    id: int
    evaluation_id: int
    pair_id: int
    rater_id: int
    choice: VoteChoice
    voted_at: UTCDateTime
    reason: str | None = None
    listening: ListeningPublic | None = None  # clips named by slot only


class RaterProgress(Model):
    """Where one rater stands in an evaluation."""

    evaluation_id: int
    rater_id: int
    status: EvaluationStatus
    voted: int
    ready: int
    pairs_total: int


class ActivateRequest(Model):
    """Activation; ``force`` overrides the evaluation gate and needs a reason that is kept."""

    force: bool = False
    reason: Annotated[CleanStr, StringConstraints(strip_whitespace=True, max_length=MAX_REASON_CHARS)] | None = None

    @model_validator(mode="after")
    def _reason(self) -> ActivateRequest:
        if self.force and not self.reason:
            raise ValueError("a forced activation needs a reason (1-500 characters)")
        if self.reason and not self.force:
            raise ValueError("reason goes with force: true")
        return self
