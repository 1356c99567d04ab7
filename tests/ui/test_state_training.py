from __future__ import annotations

import dataclasses

from reflex.istate.data import ReflexURL

from tests.ui.conftest import run
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.datasets import DatasetsState
from training_dashboard.state.stats import StatsState
from training_dashboard.state.training import (
    ON_LOAD,
    TAB_LOADS,
    TrainingState,
    show_tab,
    show_tab_from_address,
    tab_from_query,
    tab_url,
)


def test_tab_from_query() -> None:
    assert tab_from_query("adapters") == "adapters"
    assert tab_from_query(None) == "datasets"
    assert tab_from_query("<script>") == "datasets"
    assert tab_url("progress") == "/training?tab=progress"


async def test_set_tab_only_remembers_the_tab(root) -> None:  # type: ignore[no-untyped-def]
    """The browser already switched and rewrote the address (show_tab): no event goes back to it."""
    state = await root.get_state(TrainingState)
    assert await run(TrainingState.set_tab, state, "adapters") == []
    assert state.tab == "adapters"
    await run(TrainingState.set_tab, state, "nope")
    assert state.tab == "datasets"


def test_show_tab_runs_in_the_browser() -> None:
    """A JavaScript function (no backend event): sets the client-side tab, then the address."""
    clicked, fixed, from_address = str(show_tab()), str(show_tab("progress")), str(show_tab_from_address())
    for js in (clicked, fixed, from_address):
        assert "_client_state_setTraining_tab" in js and "replaceState" in js and "'/training?tab=' + tab" in js
        assert '["datasets", "adapters", "progress", "runs"].includes(asked)' in js  # an unknown tab shows the first
    assert clicked.startswith("((value) =>") and '"progress"' in fixed and "window.location.search" in from_address


def test_page_loads_the_first_tab_only() -> None:
    # a background handler straight from on_load; the other tabs fetch when shown (TAB_LOADS)
    assert ON_LOAD == [DatasetsState.load_datasets, TrainingState.load_page] and ON_LOAD[0].is_background
    assert TAB_LOADS == {"adapters": AdapterState.load_adapters, "progress": StatsState.load_stats}
    assert all(e.is_background for e in TAB_LOADS.values())


async def test_load_page_takes_the_tab_from_the_address(root) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(TrainingState)
    state.router = dataclasses.replace(state.router, url=ReflexURL("http://x/training?tab=progress"))
    assert await run(TrainingState.load_page, state) == []
    assert state.tab == "progress"
    state.router = dataclasses.replace(state.router, url=ReflexURL("http://x/training?tab=<b>"))
    await run(TrainingState.load_page, state)
    assert state.tab == "datasets"


async def test_ready_to_train_opens_the_form(root) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(TrainingState)
    state.tab = "progress"
    events = await run(TrainingState.start_dataset, state)
    assert state.tab == "datasets" and events == [DatasetsState.open_form]
