"""The training page: which tab shows (kept in ``?tab=``) and what loads with it."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.datasets import DatasetsState
from training_dashboard.state.stats import StatsState

TABS = ("datasets", "adapters", "progress", "runs")


def tab_from_query(value: str | None) -> str:
    return value if value in TABS else TABS[0]


def tab_url(tab: str) -> str:
    return f"/training?tab={tab_from_query(tab)}"


class TrainingState(rx.State):
    tab: str = TABS[0]

    @rx.event
    def load_page(self):  # type: ignore[no-untyped-def]
        """On load: the tab named in the URL, and every area's data, fetched concurrently."""
        self.tab = tab_from_query(self.router.url.query_parameters.get("tab"))
        return [DatasetsState.load_datasets, AdapterState.load_adapters, StatsState.load_stats]

    @rx.event
    def set_tab(self, value: str):  # type: ignore[no-untyped-def]
        self.tab = tab_from_query(value)
        # Only the address changes: no navigation, no reload, no second on_load.
        return rx.call_script(f"window.history.replaceState(window.history.state, '', {tab_url(self.tab)!r})")

    @rx.event
    def start_dataset(self):  # type: ignore[no-untyped-def]
        """"Ready to train": straight to the Datasets tab's create form."""
        return [TrainingState.set_tab("datasets"), DatasetsState.open_form]
