from __future__ import annotations

import asyncio

from tests.factories import make_lora_dir
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.state.adapters import AdapterState, filter_adapters


async def _register(api, settings, name: str, active: bool) -> schemas.AdapterPublic:  # type: ignore[no-untyped-def]
    path = make_lora_dir(settings.default_adapter_root, name)
    return await api.register_adapter(schemas.AdapterCreate(name=name, path=str(path), is_active=active,
                                                            description=f"{name} adapter"))


async def test_filter_is_kept_and_applied(root, transport, api, settings) -> None:  # type: ignore[no-untyped-def]
    await _register(api, settings, "warm", True)
    await _register(api, settings, "cold", False)
    state = await root.get_state(AdapterState)
    await run(AdapterState.load_adapters, state)
    assert state.base_label == "Base model (tiny)"
    assert {a.name for a in state.visible_adapters} == {"warm", "cold"}
    await run(AdapterState.set_status_filter, state, "inactive")
    assert [a.name for a in state.visible_adapters] == ["cold"]
    await run(AdapterState.set_status_filter, state, ["active"])  # segmented controls may send a list
    assert [a.name for a in state.visible_adapters] == ["warm"]
    await run(AdapterState.set_status_filter, state, "bogus")
    assert state.status_filter == "all"
    assert [a.name for a in state.active_adapters] == ["warm"]
    assert filter_adapters(state.adapters, "active") == state.active_adapters


async def test_toggle_shows_at_once_and_in_the_studio_choice(root, transport, api, settings) -> None:  # type: ignore[no-untyped-def]
    cold = await _register(api, settings, "cold", False)
    state = await root.get_state(AdapterState)
    await run(AdapterState.load_adapters, state)
    assert state.active_adapters == []
    events = await run(AdapterState.toggle_adapter, state, cold.id, True)
    assert [a.name for a in state.active_adapters] == ["cold"] and state.busy_id == 0
    assert "activated" in str(events[-1])
    assert (await api.get_adapter(cold.id)).is_active
    await run(AdapterState.toggle_adapter, state, cold.id, False)
    assert state.active_adapters == [] and not (await api.get_adapter(cold.id)).is_active


async def test_failed_toggle_reverts(root, transport, api, settings) -> None:  # type: ignore[no-untyped-def]
    cold = await _register(api, settings, "cold", False)
    state = await root.get_state(AdapterState)
    await run(AdapterState.load_adapters, state)
    await api.delete_adapter(cold.id)  # gone behind the UI's back
    events = await run(AdapterState.toggle_adapter, state, cold.id, True)
    assert state.active_adapters == [] and "Could not change the adapter" in str(events[-1])


async def test_concurrent_loads_fetch_once(root, transport, api, settings) -> None:  # type: ignore[no-untyped-def]
    await _register(api, settings, "warm", True)
    state = await root.get_state(AdapterState)
    transport.paths.clear()
    await asyncio.gather(run(AdapterState.load_adapters, state), run(AdapterState.load_adapters, state))
    assert transport.paths.count("GET /api/adapters") == 1
    assert [a.name for a in state.adapters] == ["warm"] and "0 clips" in state.adapters[0].usage
