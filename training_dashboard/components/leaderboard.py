"""The leaderboard panel: a ranked table with each strength's interval as a bar with whiskers."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import empty_state, panel_header, skeleton_rows
from training_dashboard.state.leaderboard import LeaderboardRow, LeaderboardState


def _pct(value: rx.Var) -> rx.Var:
    return value.to_string() + "%"


def interval_bar(row: LeaderboardRow) -> rx.Component:
    """The 95 % interval as a line with end caps and the estimate as a dot, on the table's axis."""
    whisker = {"position": "absolute", "top": "3px", "height": "10px", "width": "1px",
               "background": "var(--accent-9)"}
    return rx.box(
        rx.box(style={"position": "absolute", "top": "7px", "height": "2px", "left": _pct(row.bar_left),
                      "width": _pct(row.bar_width), "background": "var(--accent-9)"}),
        rx.box(style={**whisker, "left": _pct(row.bar_left)}),
        rx.box(style={**whisker, "left": "calc(" + _pct(row.bar_left) + " + " + _pct(row.bar_width) + ")"}),
        rx.box(style={"position": "absolute", "top": "4px", "height": "8px", "width": "8px", "border_radius": "50%",
                      "margin_left": "-4px", "left": _pct(row.point), "background": "var(--accent-11)"}),
        position="relative", height="16px", width="100%", min_width="6em",
    )


def leaderboard_row(row: LeaderboardRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.rank, weight="bold")),
        rx.table.cell(rx.hstack(rx.text(row.label), rx.cond(row.note, rx.badge(row.note, color_scheme="gray")),
                                spacing="2", align="center", wrap="wrap")),
        rx.table.cell(rx.text(row.strength, custom_attrs={"data-testid": "leaderboard-strength"})),
        rx.table.cell(rx.cond(row.ranked, rx.vstack(rx.text(row.interval, size="1", color_scheme="gray"),
                                                     interval_bar(row), spacing="1", width="100%"), "—"),
                      min_width="10em"),
        rx.table.cell(row.record),
        rx.table.cell(row.games.to_string()),
        custom_attrs={"data-testid": "leaderboard-row"},
    )


def leaderboard_panel() -> rx.Component:
    """Loads itself whenever it is shown (the Adapters tab mounts it on opening)."""
    s = LeaderboardState
    header = rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in (
        "Rank", "Model", "Strength", "95 % interval", "Wins–losses", "Games"))))
    return rx.vstack(
        panel_header("Leaderboard", rx.button(rx.icon("refresh-cw", size=14), "Refresh", on_click=s.load_leaderboard,
                                              loading=s.loading, variant="soft", size="1",
                                              custom_attrs={"data-testid": "leaderboard-refresh"})),
        rx.cond(
            s.error,
            rx.callout(s.error, color_scheme="red", size="1", icon="circle_alert"),
            rx.cond(
                ~s.loaded,
                skeleton_rows(2),
                rx.cond(
                    s.games > 0,
                    rx.vstack(
                        rx.text(s.summary, size="2", color_scheme="gray"),
                        rx.cond(~s.connected, rx.callout(
                            "Some models were never compared with the others, not even through a third model: "
                            "their strengths are not comparable across those groups.",
                            color_scheme="orange", size="1", icon="triangle_alert")),
                        rx.table.root(header, rx.table.body(rx.foreach(s.rows, leaderboard_row)), width="100%",
                                      size="1", variant="surface"),
                        spacing="2", width="100%", align="stretch",
                    ),
                    empty_state(
                        "No comparisons between models yet",
                        "The leaderboard ranks the base model and your adapters by the A/B choices made between "
                        "clips of different models. Generate the same prompt with two models in the studio and pick "
                        "the better clip; the ranking appears here.",
                        testid="leaderboard-empty",
                    ),
                ),
            ),
        ),
        on_mount=LeaderboardState.load_leaderboard,
        spacing="3", width="100%", align="stretch", padding_top="1.5em",
        custom_attrs={"data-testid": "leaderboard"},
    )
