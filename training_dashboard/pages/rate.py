"""`/rate`: the listening queue, one blind clip at a time (its own module, so its own JS chunk)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import page_shell
from training_dashboard.components.rate_card import rate_panel
from training_dashboard.state.auth import guard
from training_dashboard.state.rate import RateState


@rx.page(route="/rate", title="Rate · Training Dashboard", on_load=guard("/rate", RateState.load_page))
def rate() -> rx.Component:
    return page_shell(rate_panel(), current="Rate")
