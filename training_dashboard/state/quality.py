"""Data quality on the Progress tab: agreement, raters, preference consistency, coverage."""

from __future__ import annotations

import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client
from training_dashboard.state.loading import load


@dataclasses.dataclass
class RaterRow:
    name: str
    ratings: int
    mean: str
    shared: int
    distance: str
    outlier: bool
    consistency: str
    triads: int
    heard: str = "–"  # median share of each clip heard
    fast: str = "–"  # share of timed decisions made faster than the shortest clip
    listened: str = ""  # "12 of 40 with listening data"
    unattentive: bool = False


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def agreement_text(agreement: schemas.Agreement) -> str:
    if agreement.alpha is None:
        return "Not enough overlap yet: agreement needs clips rated by at least two raters"
    return (f"Krippendorff's α (ordinal) = {agreement.alpha:.3f} over {agreement.clips} clip"
            f"{'' if agreement.clips == 1 else 's'} rated by {agreement.raters} raters")


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def rater_rows(raters: list[schemas.RaterQuality]) -> list[RaterRow]:
    return [RaterRow(
        name=r.name, ratings=r.ratings, mean=_num(r.mean_rating), shared=r.shared_clips, distance=_num(r.mean_distance),
        outlier=r.outlier, triads=r.intransitive_triads,
        consistency=(f"{r.contradictions}/{r.preferences_checked} contradict" if r.preferences_checked else "–"),
        heard=_share(r.median_heard), fast=_share(r.fast_share), unattentive=r.unattentive,
        listened=f"{r.listened} of {r.judgements} judgements with listening data",
    ) for r in raters]


def listening_text(q: schemas.FeedbackQuality) -> str:
    if not q.unattentive:
        return ""
    who = "rater judges" if q.unattentive == 1 else "raters judge"
    return (f"{q.unattentive} {who} mostly without listening (most of their ratings and votes came with under "
            "half of a clip heard, or without listening data): they deserve a second look")


class QualityState(rx.State):
    alpha: str = ""
    agreement: str = ""
    raters: list[RaterRow] = []
    coverage_notes: list[str] = []
    preference_line: str = ""
    listening_line: str = ""
    loaded: bool = False
    loading: bool = False

    def _apply(self, q: schemas.FeedbackQuality) -> None:
        self.alpha = _num(q.agreement.alpha, 3)
        self.agreement = agreement_text(q.agreement)
        self.raters = rater_rows(q.raters)
        self.coverage_notes = q.coverage.notes
        self.preference_line = (f"{q.contradictions} of {q.preferences_checked} checkable preferences contradict "
                                f"the same rater's ratings by 2+ stars · {q.intransitive_triads} intransitive "
                                f"triad{'' if q.intransitive_triads == 1 else 's'}")
        self.listening_line = listening_text(q)
        self.loaded = True

    @rx.event(background=True)
    async def load_quality(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, lambda api: api.feedback_quality(), self._apply):
            yield rx.toast.error(f"Could not load data quality: {error}")
