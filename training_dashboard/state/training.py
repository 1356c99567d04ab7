"""The training page: which tab shows (kept in ``?tab=``) and what loads with it.

The shown tab lives in the browser (:data:`SHOWN_TAB`, a client-side ``useState``): a click
switches at once, rewrites the address, and only then tells the backend
(:attr:`TrainingState.tab`, which the header's Training link uses to come back to the same
tab). A tab click therefore never waits for, or is lost behind, a backend round trip.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.experimental.client_state import ClientStateVar
from reflex.vars import FunctionVar, Var

from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.datasets import DatasetsState
from training_dashboard.state.stats import StatsState

TABS = ("datasets", "adapters", "progress", "runs")

SHOWN_TAB = ClientStateVar.create("training_tab", default=TABS[0], global_ref=True)


def tab_from_query(value: str | None) -> str:
    return value if value in TABS else TABS[0]


def tab_url(tab: str) -> str:
    return f"/training?tab={tab_from_query(tab)}"


def _tab_chain(value_js: str, params: str = "") -> Var:
    """A browser-side event chain that shows a tab and writes it into the address (no navigation,
    no on_load). ``value_js`` is a JavaScript expression for the tab; unknown tabs show the first."""
    js = (f"(({params}) => {{ const asked = {value_js}; "
          f"const tab = {json.dumps(list(TABS))}.includes(asked) ? asked : {json.dumps(TABS[0])}; "
          f"{SHOWN_TAB.set_value()}(tab); "
          "window.history.replaceState(window.history.state, '', '/training?tab=' + tab); })")
    return Var(_js_expr=js, _var_data=SHOWN_TAB._get_all_var_data()).to(FunctionVar)


def show_tab(value: str | None = None) -> Var:
    """``on_change=[show_tab(), ...]`` shows the tab clicked; ``on_click=[show_tab("datasets"), ...]`` a fixed one."""
    return _tab_chain("value", "value") if value is None else _tab_chain(json.dumps(tab_from_query(value)))


def show_tab_from_backend(value: str) -> rx.event.EventSpec:
    """From an event handler: ``yield show_tab_from_backend("runs")`` shows that tab in the browser."""
    return rx.call_script(f"({show_tab(value)._js_expr})()")


def show_tab_from_address() -> Var:
    """On mount: the tab named in the address (a reload, a link, the header's Training link)."""
    return _tab_chain("new URLSearchParams(window.location.search).get('tab')")


class TrainingState(rx.State):
    tab: str = TABS[0]

    @rx.event
    def load_page(self) -> None:
        """On load: remember the tab named in the URL (the header's Training link comes back to it)."""
        self.tab = tab_from_query(self.router.url.query_parameters.get("tab"))

    @rx.event
    def set_tab(self, value: str) -> None:
        """The browser already shows the tab and rewrote the address; remember it for the header link."""
        self.tab = tab_from_query(value)

    @rx.event
    def start_dataset(self):  # type: ignore[no-untyped-def]
        """"Ready to train": the Datasets tab's create form (the button shows the tab itself)."""
        self.tab = "datasets"
        return DatasetsState.open_form


# The page's on_load: the first tab's data (a background handler), listed directly rather than
# returned by a handler, so the request starts one event earlier. The other tabs fetch theirs when
# they are shown (pages/training.py: Radix mounts only the shown tab), so a cold load of the
# Datasets tab shares the server with nothing else (at 1M ratings the adapters' usage counts and
# the statistics took half the server's CPU of a cold /training load).
ON_LOAD = [DatasetsState.load_datasets, TrainingState.load_page]
# What each tab fetches each time it is shown (the list is current without a page load).
TAB_LOADS = {"adapters": AdapterState.load_adapters, "progress": StatsState.load_stats}
