"""The Runs tab: every run with its status and progress, the watched run, and the comparison."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import empty_state, panel_header, skeleton_rows
from training_dashboard.components.run_charts import chart_preload
from training_dashboard.components.run_compare import run_compare
from training_dashboard.components.run_view import adapter_link, run_actions, run_view, status_badge
from training_dashboard.state.runs import RunRow, RunsState


def run_item(run: RunRow) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.box(rx.checkbox(checked=RunsState.compare_ids.contains(run.id),
                               on_change=lambda checked: RunsState.toggle_compare(run.id, checked),
                               custom_attrs={"data-testid": "run-compare-pick", "aria-label": "compare"}),
                   display="flex", align_items="center"),
            rx.vstack(
                rx.hstack(rx.link(run.name, on_click=RunsState.open_run(run.id), weight="bold", href="#",
                                  custom_attrs={"data-testid": "run-name"}),
                          status_badge(run), adapter_link(run), spacing="2", align="center", wrap="wrap"),
                rx.hstack(rx.progress(value=run.progress, width="8em"), rx.text(run.step_text, size="1"),
                          rx.text(run.eta_text, size="1", color_scheme="gray"), align="center", spacing="2",
                          wrap="wrap"),
                rx.text("dataset ", run.dataset, " · ", run.created, size="1", color_scheme="gray"),
                spacing="1", align="start", flex="1", min_width="0",
            ),
            rx.hstack(
                run_actions(run),
                rx.button("Open", variant="soft", size="1", on_click=RunsState.open_run(run.id),
                          custom_attrs={"data-testid": "run-open"}),
                rx.cond(run.can_delete, rx.button("Delete", variant="ghost", color_scheme="gray", size="1",
                                                  on_click=RunsState.delete_run(run.id))),
                spacing="2", wrap="wrap",
            ),
            spacing="3", align="center", justify="between", wrap="wrap",
        ),
        width="100%", custom_attrs={"data-testid": "run-row"},
    )


def run_panel() -> rx.Component:
    s = RunsState
    return rx.vstack(
        panel_header(
            "Training runs",
            rx.button("Compare ", s.compare_ids.length().to_string(), " runs", variant="soft",
                      disabled=(s.compare_ids.length() < 2) | (s.compare_ids.length() > 4), on_click=s.show_compare,
                      custom_attrs={"data-testid": "runs-compare"}),
        ),
        chart_preload(),  # the charts' code downloads while the list loads, not when a run is opened
        run_view(),
        run_compare(),
        rx.cond(
            ~s.loaded,
            skeleton_rows(),
            rx.cond(s.runs.length() > 0,
                    rx.vstack(rx.foreach(s.runs, run_item), spacing="2", width="100%"),
                    empty_state("No training runs yet",
                                "Press Train on a dataset (Datasets tab) to launch one here; its loss curve, log and "
                                "adapter appear on this tab as it trains.", testid="runs-empty")),
        ),
        spacing="3", width="100%", align="stretch",
        on_mount=s.load_runs,  # each time the tab shows: the list is current without a page load
    )
