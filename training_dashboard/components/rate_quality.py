"""Data quality, a section of the Progress tab."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.quality import QualityState, RaterRow


def _rater_row(row: RaterRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.hstack(
            rx.text(row.name),
            rx.cond(row.outlier, rx.badge("far from the others", color_scheme="orange", size="1")),
            rx.cond(row.unattentive, rx.badge("mostly without listening", color_scheme="red", size="1",
                                              custom_attrs={"data-testid": "quality-unattentive"})),
            spacing="2", align="center", wrap="wrap")),
        rx.table.cell(row.ratings.to_string()), rx.table.cell(row.mean), rx.table.cell(row.shared.to_string()),
        rx.table.cell(row.distance), rx.table.cell(row.consistency), rx.table.cell(row.triads.to_string()),
        rx.table.cell(rx.tooltip(rx.text(row.heard, custom_attrs={"data-testid": "quality-heard"}),
                                 content=row.listened)),
        rx.table.cell(row.fast, custom_attrs={"data-testid": "quality-fast"}),
        custom_attrs={"data-testid": "quality-rater"},
    )


def quality_panel() -> rx.Component:
    s = QualityState
    header = ("Rater", "Ratings", "Mean", "Shared clips", "Distance to others", "Preferences", "Cycles",
              "Heard (median)", "Too fast")
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading("Data quality", size="3"), rx.spacer(),
                      rx.button("Refresh", size="1", variant="ghost", on_click=s.load_quality, loading=s.loading),
                      width="100%", align="center"),
            rx.hstack(rx.heading(s.alpha, size="6", custom_attrs={"data-testid": "quality-alpha"}),
                      rx.text(s.agreement, size="2", custom_attrs={"data-testid": "quality-agreement"}),
                      align="center", spacing="3", wrap="wrap"),
            rx.cond(
                s.raters.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in header))),
                    rx.table.body(rx.foreach(s.raters, _rater_row)),
                    size="1", width="100%",
                ),
                rx.text("No raters yet: pick “Who is listening?” in the top bar.", size="2", color_scheme="gray"),
            ),
            rx.cond(s.raters.length() > 0, rx.text(
                "Heard: the median share of each clip a rater heard before rating or voting (hover for how many "
                "judgements came with listening data). Too fast: decisions made before the shortest clip could "
                "have ended.", size="1", color_scheme="gray")),
            rx.text(s.preference_line, size="2", custom_attrs={"data-testid": "quality-preferences"}),
            rx.cond(s.listening_line, rx.callout(s.listening_line, icon="headphones", color_scheme="orange",
                                                 size="1", custom_attrs={"data-testid": "quality-listening"})),
            rx.cond(s.coverage_notes.length() > 0, rx.vstack(
                rx.text("Thinnest coverage", size="2", weight="medium"),
                rx.foreach(s.coverage_notes, lambda n: rx.text("· ", n, size="2", color_scheme="gray")),
                spacing="1", custom_attrs={"data-testid": "quality-coverage"},
            )),
            spacing="3", width="100%", align="stretch",
        ),
        width="100%", on_mount=s.load_quality, custom_attrs={"data-testid": "quality-panel"},
    )
