"""Feedback statistics and training readiness (progress tab, studio feedback panel)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client
from training_dashboard.state.loading import load


@dataclasses.dataclass
class CountRow:
    label: str
    count: int


def readiness_text(eligible: int, threshold: int) -> str:
    """The line under the feedback panel."""
    remaining = max(threshold - eligible, 0)
    if threshold <= 0 or remaining == 0:
        return "Ready to train: enough rated samples for a dataset"
    return f"{remaining} more rating{'s' if remaining != 1 else ''} needed for training"


def rating_rows(distribution: dict[str, int]) -> list[CountRow]:
    return [CountRow(label=f"{star}★", count=int(distribution.get(str(star), 0))) for star in range(1, 6)]


def adapter_rows(samples: dict[str, int]) -> list[CountRow]:
    return [CountRow(label=label, count=count) for label, count in sorted(samples.items(), key=lambda kv: -kv[1])]


class StatsState(rx.State):
    total_feedback: int = 0
    rated_samples: int = 0
    preference_pairs: int = 0
    ties: int = 0
    ratings: list[CountRow] = rating_rows({})
    by_adapter: list[CountRow] = []
    eligible: int = 0
    threshold: int = 0
    min_rating: int = 4
    loading: bool = False
    loaded: bool = False

    @rx.var
    def rating_chart(self) -> list[dict[str, str | int]]:
        """One bar per star: label, count and the bar's width in percent of the largest."""
        top = max((r.count for r in self.ratings), default=0) or 1
        return [{"label": r.label, "count": r.count, "percent": f"{100 * r.count / top:.1f}%"} for r in self.ratings]

    @rx.var
    def ready(self) -> bool:
        return self.loaded and self.eligible >= self.threshold

    @rx.var
    def readiness_text(self) -> str:
        return readiness_text(self.eligible, self.threshold) if self.loaded else ""

    @rx.var
    def readiness_fraction(self) -> str:
        return f"{min(self.eligible, self.threshold)} / {self.threshold} samples"

    @rx.var
    def readiness_percent(self) -> int:
        return min(100, round(100 * self.eligible / self.threshold)) if self.threshold else 0

    def _apply(self, stats: schemas.FeedbackStats) -> None:
        self.total_feedback, self.rated_samples = stats.total_feedback, stats.rated_samples
        self.preference_pairs, self.ties = stats.preference_pairs, stats.ties
        self.ratings = rating_rows(stats.rating_distribution)
        self.by_adapter = adapter_rows(stats.samples_by_adapter)
        self.eligible, self.threshold = stats.readiness.eligible, stats.readiness.threshold
        self.min_rating = stats.readiness.min_rating
        self.loaded = True

    @rx.event(background=True)
    async def load_stats(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, lambda api: api.feedback_stats(), self._apply):
            yield rx.toast.error(f"Could not load feedback statistics: {error}")
