"""AdapterList with its status filter, AdapterCard with the activate switch (showing the adapter's
evaluation verdict), the Evaluate button, and the dialog that asks for a reason when the
evaluation gate refuses an activation. Activating and forcing are an admin's: others see the status."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.evaluation_card import evaluate_button, evaluation_panel
from training_dashboard.components.layout import empty_state, panel_header, skeleton_rows, stack_card
from training_dashboard.components.verdict_badge import verdict_badge
from training_dashboard.state.adapters import AdapterRow, AdapterState
from training_dashboard.state.auth import AuthState


def _detail(label: str, value: rx.Var) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label, min_width="8em"), rx.data_list.value(value))


def _json_block(title: str, value: rx.Var[str]) -> rx.Component:
    return rx.cond(value, rx.el.details(
        rx.el.summary(rx.text(title, size="2", as_="span")),
        rx.code(value, size="1", style={"white_space": "pre-wrap", "display": "block"}),
    ))


def adapter_card(adapter: AdapterRow) -> rx.Component:
    return stack_card(
        rx.flex(
            rx.hstack(rx.text(adapter.name, weight="bold", custom_attrs={"data-testid": "adapter-name"}),
                      rx.badge(adapter.version, variant="soft"),
                      rx.badge(rx.cond(adapter.is_active, "active", "inactive"),
                               color_scheme=rx.cond(adapter.is_active, "green", "gray"),
                               custom_attrs={"data-testid": "adapter-status"}),
                      rx.cond(~adapter.compatible, rx.badge("other base model", color_scheme="orange")),
                      spacing="2", align="center", wrap="wrap"),
            rx.hstack(
                evaluate_button(adapter.id, adapter.name + " " + adapter.version, AdapterState.adapters),
                verdict_badge(adapter.verdict, adapter.verdict_text, "adapter-verdict"),
                rx.cond(AuthState.is_admin, rx.hstack(  # activating is an admin's decision
                    rx.text("Active", size="2"),
                    rx.switch(checked=adapter.is_active, disabled=AdapterState.busy_id == adapter.id,
                              on_change=lambda value: AdapterState.toggle_adapter(adapter.id, value),
                              custom_attrs={"data-testid": "adapter-toggle"}),
                    align="center", spacing="2")),
                align="center", spacing="2",
            ),
            justify="between", align="center", wrap="wrap", spacing="2",
        ),
        rx.text(rx.cond(adapter.description, adapter.description, "No description"), size="2",
                color_scheme="gray"),
        rx.text(adapter.verdict_text, size="1", color_scheme="gray", custom_attrs={"data-testid":
                                                                               "adapter-verdict-text"}),
        rx.cond(adapter.forced_reason, rx.callout(
            "Activated without a 'better' evaluation. Reason given: " + adapter.forced_reason,
            icon="triangle_alert", color_scheme="orange", size="1",
            custom_attrs={"data-testid": "adapter-forced-reason"})),
        rx.data_list.root(
            _detail("Base model", adapter.base_model),
            _detail("Trained on", rx.cond(adapter.dataset, adapter.dataset, "—")),
            _detail("Created", adapter.created),
            _detail("Usage", rx.cond(adapter.usage, adapter.usage, "—")),
            size="1", orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
        ),
        _json_block("Training config", adapter.training_config),
        _json_block("Training report", adapter.report),
        testid="adapter-card",
    )


def adapter_list() -> rx.Component:
    s = AdapterState
    return rx.vstack(
        panel_header(
            "Adapters",
            rx.segmented_control.root(
                rx.segmented_control.item("All", value="all"),
                rx.segmented_control.item("Active", value="active"),
                rx.segmented_control.item("Inactive", value="inactive"),
                value=s.status_filter, on_change=s.set_status_filter,
                custom_attrs={"data-testid": "adapter-filter"},
            ),
            wrap="wrap", spacing="2",
        ),
        rx.cond(
            ~s.loaded,
            skeleton_rows(),
            rx.cond(
                s.visible_adapters.length() > 0,
                rx.grid(rx.foreach(s.visible_adapters, adapter_card), columns=rx.breakpoints(initial="1", md="2"),
                        spacing="3", width="100%"),
                empty_state(
                    rx.cond(s.adapters.length() > 0, "No adapters match this filter", "No adapters yet"),
                    "An adapter is a small LoRA file trained on one of your datasets. Export a dataset, train with "
                    "the command shown after the export, and register the result; it appears here.",
                    testid="adapters-empty",
                ),
            ),
        ),
        rx.cond(AuthState.is_admin, gate_dialog()),
        evaluation_panel(),
        spacing="3", width="100%", align="stretch",
    )


def gate_dialog() -> rx.Component:
    """Shown when activation met the evaluation gate (TD_REQUIRE_EVALUATION): say why, ask for a reason."""
    s = AdapterState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Activate without a 'better' verdict?"),
            rx.alert_dialog.description(s.gate_message, size="2", custom_attrs={"data-testid": "gate-message"}),
            rx.vstack(
                rx.text_area(value=s.gate_reason, on_change=s.set_gate_reason, placeholder="Why activate it anyway?",
                             max_length=500, width="100%", custom_attrs={"data-testid": "gate-reason"}),
                rx.text("The reason is kept and shown on the adapter.", size="1", color_scheme="gray"),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Keep inactive", variant="soft", color_scheme="gray")),
                    rx.button("Activate anyway", color_scheme="orange", on_click=s.force_activate, loading=s.forcing,
                              disabled=~s.gate_reason_ok, custom_attrs={"data-testid": "gate-force"}),
                    justify="end", spacing="2", width="100%",
                ),
                spacing="2", padding_top="1em",
            ),
            custom_attrs={"data-testid": "gate-dialog"},
        ),
        open=s.gate_for > 0, on_open_change=s.close_gate,
    )
