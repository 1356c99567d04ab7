"""What was heard before each judgement, and each rater's listening figures kept current.

A judgement is a rating, a studio preference or a blind vote (``kind``), named by the id of
its row; one ``listening`` row per clip it involved. The judgement rows themselves carry
``decision_ms`` and ``heard_fraction`` (the least share heard of any of its clips), so
filters and verdicts never read this table. Like adapter and rater ids, ``judgement_id``
is a plain integer: it points into one of three tables, chosen by ``kind``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel


class Listening(SQLModel, table=True):
    __table_args__ = (Index("ix_listening_judgement", "kind", "judgement_id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)  # rating | preference | vote
    judgement_id: int
    audio_id: int  # on votes too: resolved from the slot (answers name the slot only)
    slot: str | None = Field(default=None, max_length=8)  # first | second, on votes
    heard_s: float
    duration_s: float  # as the page reported it; fractions use the clip's stored duration
    plays: int = 0
    seeks: int = 0


class RaterListening(SQLModel, table=True):
    """A rater's listening figures, kept in each judgement's transaction (the quality report
    reads one row per rater). Imported ratings do not count."""

    __tablename__ = "rater_listening"

    rater_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # the rater's id
    judgements: int = 0  # ratings, studio preferences and votes
    listened: int = 0  # of those, with listening data
    attentive: int = 0  # with listening data and heard_fraction >= 0.5
    timed: int = 0  # with decision_ms
    fast: int = 0  # decided in less time than the shortest of its clips lasts


class HeardCount(SQLModel, table=True):
    """Per rater, how many clips were heard to each whole percent (0..100) of their duration:
    the median share heard is read from these at most 101 rows."""

    __tablename__ = "heard_count"

    rater_id: int = Field(primary_key=True)
    percent: int = Field(primary_key=True)
    count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
