from __future__ import annotations

from tests.ui.conftest import run
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.datasets import DatasetsState
from training_dashboard.state.stats import StatsState
from training_dashboard.state.training import TrainingState, tab_from_query, tab_url


def test_tab_from_query() -> None:
    assert tab_from_query("adapters") == "adapters"
    assert tab_from_query(None) == "datasets"
    assert tab_from_query("<script>") == "datasets"
    assert tab_url("progress") == "/training?tab=progress"


async def test_set_tab_rewrites_the_address_only(root) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(TrainingState)
    events = await run(TrainingState.set_tab, state, "adapters")
    assert state.tab == "adapters"
    assert "replaceState" in str(events[0]) and "/training?tab=adapters" in str(events[0])
    await run(TrainingState.set_tab, state, "nope")
    assert state.tab == "datasets"


async def test_load_page_fetches_every_area_concurrently(root) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(TrainingState)
    events = await run(TrainingState.load_page, state)
    # background handlers: the three run side by side, not one after another
    assert events == [DatasetsState.load_datasets, AdapterState.load_adapters, StatsState.load_stats]
    assert all(e.is_background for e in events)


async def test_ready_to_train_opens_the_form(root) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(TrainingState)
    events = await run(TrainingState.start_dataset, state)
    assert events[1] == DatasetsState.open_form
