"""What a listener heard before a judgement, the listen gate's policy, and evaluation planning.

A judgement (a rating, a studio preference, a blind vote) may carry a ``listening`` object:
for each clip involved the seconds actually heard (distinct, from the audio element's
``played`` ranges), the clip's duration as the page saw it, plays and seeks; and the time
from the clips being shown to the decision. Clips are named by ``audio_id``, on votes by
``slot`` ("first" / "second"), since the blind page never learns the clip ids.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from training_dashboard.schemas.common import CleanStr, Id, Model

MAX_LISTEN_SECONDS = 86_400.0  # a day: no clip is longer, no decision takes longer
MAX_DECISION_MS = 86_400_000
MAX_COUNT = 10_000  # plays, seeks
MAX_REASON = 500
HEARD_SLACK_S = 0.25  # heard_s may exceed the clip's real duration by this much (timer granularity)

Seconds = Annotated[float, Field(ge=0, le=MAX_LISTEN_SECONDS, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
DecisionMs = Annotated[int, Field(ge=0, le=MAX_DECISION_MS, strict=True)]
Slot = Literal["first", "second"]
Reason = Annotated[CleanStr, StringConstraints(strip_whitespace=True, max_length=MAX_REASON)]


class HeardBase(Model):
    heard_s: Seconds
    duration_s: Seconds
    plays: Count = 0
    seeks: Count = 0


class ClipHeard(HeardBase):
    """One clip of a rating or a preference, named by its id."""

    audio_id: Id


class SlotHeard(HeardBase):
    """One clip of a blind pair, named by where it was played."""

    slot: Slot


def _first_repeat(values: list[Any]) -> Any:
    """The smallest value listed more than once (None when each is listed once)."""
    twice = sorted({v for v in values if values.count(v) > 1})
    return twice[0] if twice else None


class Listening(Model):
    """Listening data of a rating or a preference: every clip of the judgement exactly once."""

    clips: Annotated[list[ClipHeard], Field(min_length=1, max_length=8)]
    decision_ms: DecisionMs | None = None

    @field_validator("clips")
    @classmethod
    def _once(cls, clips: list[ClipHeard]) -> list[ClipHeard]:
        if (twice := _first_repeat([c.audio_id for c in clips])) is not None:
            raise ValueError(f"clip {twice} is listed more than once")
        return clips


class VoteListening(Model):
    """Listening data of a blind vote: both slots, each once."""

    clips: Annotated[list[SlotHeard], Field(min_length=1, max_length=2)]
    decision_ms: DecisionMs | None = None

    @field_validator("clips")
    @classmethod
    def _once(cls, clips: list[SlotHeard]) -> list[SlotHeard]:
        if (twice := _first_repeat([c.slot for c in clips])) is not None:
            raise ValueError(f"slot '{twice}' is listed more than once")
        return clips


class HeardPublic(Model):
    """One clip as stored: ``audio_id`` on ratings and preferences, ``slot`` on votes (never both)."""

    audio_id: int | None = None
    slot: Slot | None = None
    heard_s: float
    duration_s: float
    plays: int
    seeks: int


class ListeningPublic(Model):
    """What was stored. ``heard_fraction``: the least, over the clips, of heard seconds / the
    clip's real duration (capped at 1)."""

    clips: list[HeardPublic]
    decision_ms: int | None
    heard_fraction: float


class ListeningPolicy(Model):
    """The listen gate (``TD_MIN_LISTEN``); all null when it is off. With both set, each clip
    needs the shorter of the two; never more than the clip's own duration."""

    spec: str | None
    min_seconds: float | None
    min_fraction: float | None


class EvaluationPlan(Model):
    """What an evaluation of ``pairs`` pairs can detect (exact two-sided sign test at ``alpha``,
    ``power``), ties assumed at ``tie_rate``.

    ``detectable_win_rate``: the smallest win rate above 0.5 (ties excluded) detected with at
    least ``power`` (None: not even a certain win reaches it with this few pairs).
    ``pairs_needed``: the fewest pairs giving ``power`` at ``expected_win_rate`` (None when not
    asked, or no number up to ``max_pairs`` does).
    """

    pairs: int
    tie_rate: float
    past_evaluations: int
    alpha: float
    power: float
    detectable_win_rate: float | None
    expected_win_rate: float | None
    pairs_needed: int | None
    max_pairs: int

