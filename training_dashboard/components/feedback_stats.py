"""FeedbackStats and TrainingReadiness: the Progress tab."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import skeleton_rows, stack_card
from training_dashboard.components.rate_quality import quality_panel
from training_dashboard.state.stats import CountRow, StatsState
from training_dashboard.state.training import TrainingState, show_tab


def _figure(label: str, value: rx.Var, testid: str) -> rx.Component:
    return rx.card(rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                             rx.heading(value.to_string(), size="6", custom_attrs={"data-testid": testid}),
                             spacing="1"), width="100%")


def _bar(row: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.text(row["label"], size="2", width="2.5em"),
        rx.box(rx.box(height="100%", width=row["percent"], background="var(--accent-9)", border_radius="3px"),
               flex="1", height="18px", background="var(--gray-a3)", border_radius="3px"),
        rx.text(row["count"].to_string(), size="2", width="4em", text_align="right"),
        align="center", width="100%", custom_attrs={"data-testid": "rating-bar"},
    )


def _adapter_row(row: CountRow) -> rx.Component:
    return rx.table.row(rx.table.cell(row.label), rx.table.cell(row.count.to_string()))


def training_readiness() -> rx.Component:
    s = StatsState
    return stack_card(
        rx.heading("Training readiness", size="3"),
        rx.text(s.readiness_fraction, weight="bold", custom_attrs={"data-testid": "readiness-fraction"}),
        rx.progress(value=s.readiness_percent, max=100, width="100%"),
        rx.text("Samples rated ", s.min_rating.to_string(), "★ or better count toward a supervised dataset.",
                size="1", color_scheme="gray"),
        rx.cond(
            s.ready,
            rx.hstack(rx.badge("Ready to train", color_scheme="green", size="2",
                               custom_attrs={"data-testid": "ready-badge"}),
                      rx.button("Create a dataset", on_click=[show_tab("datasets"), TrainingState.start_dataset],
                                custom_attrs={"data-testid": "ready-create"}),
                      align="center", spacing="3", wrap="wrap"),
            rx.text(s.readiness_text, size="2", custom_attrs={"data-testid": "readiness-text"}),
        ),
    )


def feedback_stats() -> rx.Component:
    s = StatsState
    return rx.vstack(
        rx.grid(
            _figure("Ratings", s.total_feedback, "stat-total"),
            _figure("Rated clips", s.rated_samples, "stat-rated"),
            _figure("Preference pairs", s.preference_pairs, "stat-pairs"),
            _figure("Ties", s.ties, "stat-ties"),
            columns=rx.breakpoints(initial="2", sm="4"), spacing="3", width="100%",
        ),
        rx.card(
            rx.text("Rating distribution", size="2", weight="medium"),
            # Plain boxes, not a charting library: five bars do not justify ~300 KB of JavaScript
            # on a page that must show data within a second.
            rx.vstack(rx.foreach(s.rating_chart, _bar), spacing="2", width="100%", padding_top="8px"),
            width="100%", custom_attrs={"data-testid": "rating-chart"},
        ),
        rx.card(
            rx.text("Rated samples by model", size="2", weight="medium"),
            rx.cond(
                s.by_adapter.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(rx.table.column_header_cell("Model"),
                                                 rx.table.column_header_cell("Ratings"))),
                    rx.table.body(rx.foreach(s.by_adapter, _adapter_row)),
                    size="1", width="100%",
                ),
                rx.text("No rated clips yet.", size="2", color_scheme="gray"),
            ),
            width="100%",
        ),
        spacing="3", width="100%", align="stretch",
    )


def progress_panel() -> rx.Component:
    return rx.cond(
        StatsState.loaded,
        rx.vstack(training_readiness(), feedback_stats(), quality_panel(), spacing="3", width="100%",
                  align="stretch"),
        skeleton_rows(),
    )
