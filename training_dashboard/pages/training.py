"""`/training`: datasets, adapters, progress and runs tabs (its own module, so its own JS chunk)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.adapter_list import adapter_list
from training_dashboard.components.dataset_list import dataset_panel
from training_dashboard.components.feedback_stats import progress_panel
from training_dashboard.components.layout import page_shell
from training_dashboard.components.leaderboard import leaderboard_panel
from training_dashboard.components.run_list import run_panel
from training_dashboard.components.worker_list import worker_panel
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.auth import guard
from training_dashboard.state.datasets import DatasetsState
from training_dashboard.state.training import (
    ON_LOAD,
    SHOWN_TAB,
    TAB_LOADS,
    TrainingState,
    show_tab,
    show_tab_from_address,
)


def _tab(value: str, label: str) -> rx.Component:
    return rx.tabs.trigger(label, value=value, custom_attrs={"data-testid": f"tab-{value}"})


def _content(value: str, *children: rx.Component) -> rx.Component:
    """A tab's panel. Radix renders a panel's children only while it is shown, so a fragment
    around them mounts each time the tab shows, and fetches the tab's data (TAB_LOADS)."""
    if value in TAB_LOADS:
        children = (rx.fragment(*children, on_mount=TAB_LOADS[value]),)
    return rx.tabs.content(*children, value=value, padding_top="1em")


def _form_adapters() -> rx.Component:
    """The dataset form's "Generated with" choices: the adapters, fetched when the form opens."""
    return rx.cond(DatasetsState.form_open, rx.fragment(on_mount=AdapterState.load_adapters))


@rx.page(route="/training", title="Training · Training Dashboard", on_load=guard("/training", *ON_LOAD, role="trainer"))
def training() -> rx.Component:
    return page_shell(
        rx.tabs.root(
            rx.tabs.list(_tab("datasets", "Datasets"), _tab("adapters", "Adapters"), _tab("progress", "Progress"),
                         _tab("runs", "Runs")),
            _content("datasets", dataset_panel(), _form_adapters()),
            _content("adapters", adapter_list(), leaderboard_panel()),
            _content("progress", progress_panel()),
            _content("runs", run_panel(), worker_panel()),
            # Switched in the browser at once; the backend hears of it after (see state/training.py).
            value=SHOWN_TAB.value, on_change=[show_tab(), TrainingState.set_tab], on_mount=show_tab_from_address(),
            width="100%",
        ),
        current="Training", role="trainer", what="The training page (datasets, adapters, runs)",
    )
