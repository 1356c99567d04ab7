"""Broker mode: the worker machines, under the runs (name, queues, model state, what each is doing)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import panel_header
from training_dashboard.state.workers import WorkerRow, WorkersState


def worker_item(worker: WorkerRow) -> rx.Component:
    return rx.flex(
        rx.text(worker.name, weight="bold", size="2", custom_attrs={"data-testid": "worker-name"}),
        rx.badge(worker.queues, variant="soft", color_scheme="gray", custom_attrs={"data-testid": "worker-queues"}),
        rx.badge(worker.status, color_scheme=worker.color, custom_attrs={"data-testid": "worker-status"}),
        rx.text(worker.doing, size="1", custom_attrs={"data-testid": "worker-doing"}),
        rx.text("seen ", worker.last_seen, size="1", color_scheme="gray"),
        rx.cond(worker.error != "", rx.text(worker.error, size="1", color_scheme="red", width="100%")),
        spacing="2", align="center", wrap="wrap", width="100%", custom_attrs={"data-testid": "worker-row"},
    )


def worker_panel() -> rx.Component:
    """Nothing in embedded mode (the app's own thread does the work); the list in broker mode."""
    s = WorkersState
    return rx.box(
        rx.cond(
            s.broker,
            rx.card(
                rx.vstack(
                    panel_header("Workers", rx.button("Refresh", variant="ghost", size="1", on_click=s.load_workers,
                                                      loading=s.loading,
                                                      custom_attrs={"data-testid": "workers-refresh"}), size="3"),
                    rx.cond(
                        s.workers.length() > 0,
                        rx.vstack(rx.foreach(s.workers, worker_item), spacing="2", width="100%"),
                        rx.text("No worker connected: start one with ",
                                rx.code("python -m training_dashboard.worker --queues generate,train"),
                                size="2", custom_attrs={"data-testid": "workers-empty"}),
                    ),
                    spacing="2", width="100%",
                ),
                width="100%", margin_top="1em", custom_attrs={"data-testid": "worker-panel"},
            ),
        ),
        rx.cond(s.problem != "", rx.text(s.problem, size="1", color_scheme="red")),
        width="100%", on_mount=s.load_workers,
    )
