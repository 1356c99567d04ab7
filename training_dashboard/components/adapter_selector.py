"""AdapterSelector: base model first, then every active adapter with its version and description."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.verdict_badge import verdict_badge
from training_dashboard.state.adapters import AdapterRow, AdapterState


def _choice(value: str | rx.Var, title: rx.Component, detail: rx.Component | str) -> rx.Component:
    return rx.radio_cards.item(
        rx.vstack(title, rx.text(detail, size="1", color_scheme="gray", trim="both") if isinstance(detail, str)
                  else detail, spacing="1", align="start", width="100%"),
        value=value, custom_attrs={"data-testid": "adapter-choice"},
    )


def _adapter_choice(adapter: AdapterRow) -> rx.Component:
    return _choice(
        adapter.id.to_string(),
        rx.hstack(rx.text(adapter.name, weight="bold", size="2"), rx.badge(adapter.version, variant="soft"),
                  verdict_badge(adapter.verdict, adapter.verdict_text, "selector-verdict"),
                  spacing="2", align="center", wrap="wrap"),
        rx.text(rx.cond(adapter.description, adapter.description, "No description"), size="1",
                color_scheme="gray", trim="both", class_name="line-clamp-2",
                style={"overflow": "hidden", "display": "-webkit-box", "-webkit-line-clamp": "2",
                       "-webkit-box-orient": "vertical"}),
    )


def adapter_selector(value: rx.Var[str], on_change: rx.EventHandler) -> rx.Component:
    """The choice is the radio value: "base" or the adapter id as text."""
    return rx.vstack(
        rx.hstack(rx.text("Model", size="2", weight="medium"),
                  rx.cond(AdapterState.loading & ~AdapterState.loaded, rx.spinner(size="1")), align="center"),
        rx.radio_cards.root(
            _choice("base", rx.text(AdapterState.base_label, weight="bold", size="2"), "No adapter: the base model"),
            rx.foreach(AdapterState.active_adapters, _adapter_choice),
            value=value, on_value_change=on_change, columns=rx.breakpoints(initial="1", sm="2"),
            size="1", gap="2", width="100%", custom_attrs={"data-testid": "adapter-selector"},
        ),
        spacing="1", width="100%", align="stretch",
    )
