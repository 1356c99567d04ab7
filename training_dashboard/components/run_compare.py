"""Compare 2–4 runs: overlaid loss curves and a config table with the differing keys highlighted."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import panel_header
from training_dashboard.components.run_charts import compare_chart
from training_dashboard.state.runs import CompareRow, RunsState


def _row(row: CompareRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.key),
        rx.foreach(row.cells, lambda value: rx.table.cell(rx.code(value))),
        background=rx.cond(row.differs, "var(--amber-a4)", "transparent"),
        custom_attrs={"data-testid": "compare-row", "data-differs": row.differs.to_string()},
    )


def run_compare() -> rx.Component:
    s = RunsState
    return rx.cond(s.compare_open, rx.card(
        rx.vstack(
            panel_header("Compare runs", rx.button("Close", variant="ghost", size="1", on_click=s.close_compare)),
            rx.text("Training loss", size="2", weight="medium"),
            compare_chart(),
            rx.text("Configuration (differences highlighted)", size="2", weight="medium"),
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(rx.table.column_header_cell("option"),
                                             rx.foreach(s.compare_names, lambda n: rx.cond(
                                                 n != "", rx.table.column_header_cell(n))))),
                rx.table.body(rx.foreach(s.compare_rows, _row)),
                size="1", width="100%",
            ), overflow_x="auto", width="100%"),
            spacing="2", width="100%", align="stretch",
        ),
        width="100%", custom_attrs={"data-testid": "run-compare"},
    ))
