"""`/training`: datasets, adapters, progress and runs tabs (its own module, so its own JS chunk)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.adapter_list import adapter_list
from training_dashboard.components.dataset_list import dataset_panel
from training_dashboard.components.feedback_stats import progress_panel
from training_dashboard.components.layout import page_shell
from training_dashboard.components.run_list import run_panel
from training_dashboard.state.training import TrainingState


def _tab(value: str, label: str) -> rx.Component:
    return rx.tabs.trigger(label, value=value, custom_attrs={"data-testid": f"tab-{value}"})


@rx.page(route="/training", title="Training · Training Dashboard", on_load=TrainingState.load_page)
def training() -> rx.Component:
    return page_shell(
        rx.tabs.root(
            rx.tabs.list(_tab("datasets", "Datasets"), _tab("adapters", "Adapters"), _tab("progress", "Progress"),
                         _tab("runs", "Runs")),
            rx.tabs.content(dataset_panel(), value="datasets", padding_top="1em"),
            rx.tabs.content(adapter_list(), value="adapters", padding_top="1em"),
            rx.tabs.content(progress_panel(), value="progress", padding_top="1em"),
            rx.tabs.content(run_panel(), value="runs", padding_top="1em"),
            value=TrainingState.tab, on_change=TrainingState.set_tab, width="100%",
        ),
        current="Training",
    )
