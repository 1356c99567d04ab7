"""Data quality: rater agreement, outliers, contradictions and coverage."""

from __future__ import annotations

from typing import Literal

from training_dashboard.schemas.common import Model


class Agreement(Model):
    level: Literal["ordinal"] = "ordinal"
    alpha: float | None
    clips: int
    ratings: int
    raters: int


class RaterQuality(Model):
    rater_id: int
    name: str
    ratings: int
    mean_rating: float | None
    shared_clips: int
    mean_distance: float | None
    outlier: bool
    preferences: int
    preferences_checked: int
    contradictions: int
    contradiction_rate: float | None
    intransitive_triads: int
    # Listening (services/listening_stats.py defines each): judgements counted, those with
    # listening data, the median share of each clip heard, the share of timed decisions made
    # faster than the shortest clip, and the unattentive flag.
    judgements: int = 0
    listened: int = 0
    median_heard: float | None = None
    fast_share: float | None = None
    unattentive: bool = False


class CoverageBucket(Model):
    kind: Literal["style", "mood", "tag", "adapter"]
    value: str
    eligible: int
    ratings: int


class Coverage(Model):
    min_rating: int
    by_style: dict[str, int]
    by_mood: dict[str, int]
    by_tag: dict[str, int]
    by_adapter: dict[str, int]
    thinnest: list[CoverageBucket]
    notes: list[str]


class FeedbackQuality(Model):
    agreement: Agreement
    raters: list[RaterQuality]
    outlier_distance: float | None
    contradictions: int
    preferences_checked: int
    intransitive_triads: int
    coverage: Coverage
    unattentive: int = 0  # raters flagged unattentive
