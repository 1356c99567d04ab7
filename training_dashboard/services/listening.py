"""Listening data: checked against the judgement's real clips, held to the listen gate, stored
with the judgement and counted for its rater, all in the judgement's own transaction.

Definitions used everywhere (reports, filters, verdicts):

- a clip's *heard fraction* is ``min(1, heard_s / duration)`` with the clip's stored duration;
- a judgement's ``heard_fraction`` is the least heard fraction of its clips;
- a decision is *fast* when ``decision_ms`` is under the duration of its shortest clip;
- a judgement is *attentive* when it has listening data and ``heard_fraction >= 0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db.increments import add_to_rows
from training_dashboard.db.models import AudioSample, Listening
from training_dashboard.services.errors import NotFound, Unprocessable

ATTENTIVE = 0.5
GATE_SLACK_S = 0.05  # the audio element reports time in steps; this much short of the gate still passes


def clip_fraction(heard_s: float, duration: float) -> float:
    return 1.0 if duration <= 0 else min(1.0, heard_s / duration)


def heard_percent(fraction: float) -> int:
    """The whole percent (0..100) a heard fraction falls in, as the per-rater counts keep it."""
    return max(0, min(100, math.floor(fraction * 100 + 1e-9)))


@dataclass(frozen=True)
class Heard:
    """One clip of a judgement after checking: ``real_s`` is its stored duration."""

    audio_id: int
    slot: str | None
    heard_s: float
    duration_s: float
    plays: int
    seeks: int
    real_s: float

    @property
    def fraction(self) -> float:
        return clip_fraction(self.heard_s, self.real_s)


@dataclass(frozen=True)
class Checked:
    clips: tuple[Heard, ...]
    decision_ms: int | None

    @property
    def heard_fraction(self) -> float:
        return min(c.fraction for c in self.clips)

    @property
    def fast(self) -> bool:
        return self.decision_ms is not None and self.decision_ms < 1000 * min(c.real_s for c in self.clips)

    def subset(self, audio_ids: Iterable[int]) -> Checked:
        wanted = set(audio_ids)
        return Checked(tuple(c for c in self.clips if c.audio_id in wanted), self.decision_ms)


@dataclass(frozen=True)
class ListenGate:
    """``TD_MIN_LISTEN``: each clip needs the shorter of ``seconds`` and ``fraction`` of its
    duration, never more than the whole clip; off when both are None."""

    spec: str | None = None
    seconds: float | None = None
    fraction: float | None = None

    @property
    def on(self) -> bool:
        return self.seconds is not None or self.fraction is not None

    def required(self, duration: float) -> float:
        needs = [duration]
        if self.seconds is not None:
            needs.append(self.seconds)
        if self.fraction is not None:
            needs.append(self.fraction * duration)
        return min(needs) if self.on else 0.0


OFF = ListenGate()


def gate_of(settings: Settings) -> ListenGate:
    seconds, fraction = settings.listen_gate
    return ListenGate(settings.min_listen, seconds, fraction)


def policy(settings: Settings) -> schemas.ListeningPolicy:
    gate = gate_of(settings)
    return schemas.ListeningPolicy(spec=gate.spec, min_seconds=gate.seconds, min_fraction=gate.fraction)


def durations(session: Session, audio_ids: Iterable[int]) -> dict[int, float]:
    """Stored durations of clips (missing ids are left out)."""
    ids = sorted(set(audio_ids))
    return dict(session.execute(select(AudioSample.id, AudioSample.duration).where(AudioSample.id.in_(ids))).all())


def check(data: schemas.Listening | schemas.VoteListening, clips: dict[int | str, tuple[int, float]],
          what: str) -> Checked:
    """Hold listening data to the judgement: every clip of it exactly once (``clips`` maps each
    name, an audio id or a slot, to (audio id, stored duration)), none heard longer than it lasts.

    Raises:
        Unprocessable: a clip that is not part of the judgement, one left out, or heard too long;
            the message names the field.
    """
    out = []
    for i, clip in enumerate(data.clips):
        key: int | str = clip.slot if isinstance(clip, schemas.SlotHeard) else clip.audio_id
        field = f"listening.clips.{i}.{'slot' if isinstance(key, str) else 'audio_id'}"
        if key not in clips:
            names = ", ".join(str(k) for k in clips)
            raise Unprocessable(f"{field}: clip {key} is not part of this {what} (its clips: {names})")
        audio_id, real = clips[key]
        if clip.heard_s > real + schemas.HEARD_SLACK_S:
            raise Unprocessable(f"listening.clips.{i}.heard_s: {clip.heard_s:g} s heard, but clip {key} lasts "
                                f"{real:g} s")
        out.append(Heard(audio_id, key if isinstance(key, str) else None, clip.heard_s, clip.duration_s, clip.plays,
                         clip.seeks, real))
    missing = [str(k) for k in clips if k not in {h.slot or h.audio_id for h in out}]
    if missing:
        raise Unprocessable(f"listening.clips: clip {', '.join(missing)} of this {what} is missing; "
                            "list every clip of it once")
    return Checked(tuple(out), data.decision_ms)


def enforce(gate: ListenGate, checked: Checked | None, what: str) -> None:
    """The listen gate: every clip heard at least what the gate requires.

    Raises:
        Unprocessable: no listening data, or a clip heard less; says how much is missing.
    """
    if not gate.on:
        return
    if checked is None:
        raise Unprocessable(f"listening: this server's listen gate (TD_MIN_LISTEN={gate.spec}) needs listening data "
                            f"with every {what}")
    short = []
    for clip in checked.clips:
        needed = gate.required(clip.real_s)
        if clip.heard_s + GATE_SLACK_S < needed:
            name = f"{clip.slot} clip" if clip.slot else f"clip {clip.audio_id}"
            short.append(f"{name}: heard {clip.heard_s:.1f} s of the required {needed:.1f} s")
    if short:
        raise Unprocessable(f"listening: {'; '.join(short)} (listen gate {gate.spec})")


def store(session: Session, kind: str, judgement_id: int, checked: Checked | None) -> None:
    """The listening rows of one judgement (nothing when there is no listening data)."""
    if checked is None:
        return
    session.execute(insert(Listening.__table__), [  # Core: no ORM bulk-insert machinery for a row or two
        {"kind": kind, "judgement_id": judgement_id, "audio_id": c.audio_id, "slot": c.slot, "heard_s": c.heard_s,
         "duration_s": c.duration_s, "plays": c.plays, "seeks": c.seeks} for c in checked.clips])


def note(session: Session, rater_id: int, judgements: Sequence[Checked | None]) -> None:
    """Count judgements of a rater in its listening figures: one prebuilt upsert per table
    (``db.increments``: this runs inside every rating's and preference's write transaction)."""
    if not judgements:
        return
    conn = session.connection()
    listened = [c for c in judgements if c is not None]
    figures = (len(judgements), len(listened), sum(c.heard_fraction >= ATTENTIVE for c in listened),
               sum(c.decision_ms is not None for c in listened), sum(c.fast for c in listened))
    add_to_rows(conn, "rater_listening", ("rater_id",), ("judgements", "listened", "attentive", "timed", "fast"),
                [(rater_id, *figures)])
    buckets: dict[int, int] = {}
    for checked in listened:
        for clip in checked.clips:
            percent = heard_percent(clip.fraction)
            buckets[percent] = buckets.get(percent, 0) + 1
    add_to_rows(conn, "heard_count", ("rater_id", "percent"), "count",
                [(rater_id, p, n) for p, n in sorted(buckets.items())])


def echo(data: schemas.Listening | schemas.VoteListening | None, row: Any,
         audio_ids: Sequence[int] | None = None) -> schemas.ListeningPublic | None:
    """What was stored with a judgement just written, as its answer shows it: the clips sent
    (those among ``audio_ids`` when given) with the row's ``decision_ms`` and ``heard_fraction``;
    votes name slots, never clips."""
    if data is None or row.heard_fraction is None:
        return None
    clips = []
    for clip in data.clips:
        if isinstance(clip, schemas.SlotHeard):
            clips.append(schemas.HeardPublic(slot=clip.slot, heard_s=clip.heard_s, duration_s=clip.duration_s,
                                             plays=clip.plays, seeks=clip.seeks))
        elif audio_ids is None or clip.audio_id in audio_ids:
            clips.append(schemas.HeardPublic(audio_id=clip.audio_id, heard_s=clip.heard_s,
                                             duration_s=clip.duration_s, plays=clip.plays, seeks=clip.seeks))
    return schemas.ListeningPublic(clips=clips, decision_ms=row.decision_ms, heard_fraction=row.heard_fraction)


def stored(session: Session, kind: str, judgements: dict[int, tuple[int | None, float | None]]
           ) -> dict[int, schemas.ListeningPublic]:
    """Stored listening of many judgements of one kind: ``judgements`` maps each id to its
    (decision_ms, heard_fraction); those without listening data are left out."""
    ids = [i for i, (_, fraction) in judgements.items() if fraction is not None]
    if not ids:
        return {}
    clips: dict[int, list[schemas.HeardPublic]] = {}
    for row in session.execute(select(Listening).where(Listening.kind == kind, Listening.judgement_id.in_(ids))
                               .order_by(Listening.id)).scalars():
        clips.setdefault(row.judgement_id, []).append(schemas.HeardPublic(
            audio_id=None if kind == "vote" else row.audio_id, slot=row.slot, heard_s=row.heard_s,
            duration_s=row.duration_s, plays=row.plays, seeks=row.seeks))
    return {i: schemas.ListeningPublic(clips=clips[i], decision_ms=judgements[i][0],
                                       heard_fraction=judgements[i][1] or 0.0) for i in ids if i in clips}


def clip_map(session: Session, audio_ids: Sequence[int]) -> dict[int | str, tuple[int, float]]:
    """``check``'s clip map for clips named by id.

    Raises:
        NotFound: a clip that does not exist.
    """
    found = durations(session, audio_ids)
    for audio_id in audio_ids:
        if audio_id not in found:
            raise NotFound(f"Audio {audio_id} not found")
    return {a: (a, found[a]) for a in audio_ids}
