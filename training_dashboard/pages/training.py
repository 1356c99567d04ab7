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
from training_dashboard.state.training import ON_LOAD, SHOWN_TAB, TrainingState, show_tab, show_tab_from_address


def _tab(value: str, label: str) -> rx.Component:
    return rx.tabs.trigger(label, value=value, custom_attrs={"data-testid": f"tab-{value}"})


@rx.page(route="/training", title="Training · Training Dashboard", on_load=ON_LOAD)
def training() -> rx.Component:
    return page_shell(
        rx.tabs.root(
            rx.tabs.list(_tab("datasets", "Datasets"), _tab("adapters", "Adapters"), _tab("progress", "Progress"),
                         _tab("runs", "Runs")),
            rx.tabs.content(dataset_panel(), value="datasets", padding_top="1em"),
            rx.tabs.content(adapter_list(), leaderboard_panel(), value="adapters", padding_top="1em"),
            rx.tabs.content(progress_panel(), value="progress", padding_top="1em"),
            rx.tabs.content(run_panel(), worker_panel(), value="runs", padding_top="1em"),
            # Switched in the browser at once; the backend hears of it after (see state/training.py).
            value=SHOWN_TAB.value, on_change=[show_tab(), TrainingState.set_tab], on_mount=show_tab_from_address(),
            width="100%",
        ),
        current="Training",
    )
