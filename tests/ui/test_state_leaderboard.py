"""LeaderboardState on the real in-process API (and a real unreachable address)."""

from __future__ import annotations

import pytest

from tests.factories import make_clips, make_lora_dir
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state import leaderboard as leaderboard_state
from training_dashboard.state.leaderboard import LeaderboardState, leaderboard_rows


@pytest.fixture
def board_api(transport, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(leaderboard_state, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    return transport


async def test_empty_leaderboard_loads_without_games(root, board_api) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(LeaderboardState)
    await run(LeaderboardState.load_leaderboard, state)
    assert state.loaded and not state.loading and state.error == ""
    assert state.games == 0 and state.summary == ""
    assert [(r.label, r.rank, r.strength, r.note, r.ranked) for r in state.rows] == [
        ("base", "—", "—", "no games yet", False)]


async def test_ranked_rows_with_intervals_on_one_axis(root, board_api, api, client, db, settings) -> None:  # type: ignore[no-untyped-def]
    path = make_lora_dir(settings.default_adapter_root, "warm")
    warm = await api.register_adapter(schemas.AdapterCreate(name="warm", path=str(path)))
    pid = (await client.post("/prompts", json={"text": "rain"})).json()["id"]
    base = make_clips(db, settings, pid, n=1)
    mine = make_clips(db, settings, pid, n=1, adapter_id=warm.id)
    for chosen, rejected, times in ((mine[0], base[0], 9), (base[0], mine[0], 3)):
        for _ in range(times):
            await client.post("/preferences", json={"chosen_id": chosen, "rejected_id": rejected})
    await client.post("/preferences", json={"chosen_id": mine[0], "rejected_id": base[0], "tie": True})

    state = await root.get_state(LeaderboardState)
    await run(LeaderboardState.load_leaderboard, state)
    assert state.games == 12 and state.connected
    assert "12 A/B choices" in state.summary and "(1 tie left out)" in state.summary
    first, second = state.rows
    assert (first.label, first.rank, first.record, first.games) == ("warm@1.0.0", "1", "9–3", 12)
    assert (second.label, second.rank, second.record) == ("base", "2", "3–9")
    assert first.strength.startswith("+") and second.strength.startswith("-")
    for row in state.rows:
        assert row.ranked and row.note == ""
        assert 0 <= row.bar_left <= row.point <= row.bar_left + row.bar_width <= 100.1
    assert first.bar_left > second.bar_left


async def test_unreachable_api_shows_an_error(root, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(leaderboard_state, "api_client", lambda *_: ApiClient("http://127.0.0.1:9/api", timeout=5))
    state = await root.get_state(LeaderboardState)
    await run(LeaderboardState.load_leaderboard, state)
    assert state.loaded and not state.loading
    assert state.error.startswith("Could not load the leaderboard: API unreachable")


def test_rows_mark_deleted_and_unplayed_models() -> None:
    entry = {"is_active": None, "component": 0, "win_rate": 0.5}
    board = schemas.Leaderboard(
        items=[
            schemas.LeaderboardEntry(rank=1, adapter_id=7, label="adapter #7 (deleted)", deleted=True, strength=0.5,
                                     ci_low=0.25, ci_high=0.75, games=10, wins=5, losses=5, **entry),
            schemas.LeaderboardEntry(rank=2, adapter_id=None, label="base", strength=-0.5, ci_low=-0.75,
                                     ci_high=-0.25, games=10, wins=5, losses=5, **entry),
            schemas.LeaderboardEntry(rank=None, adapter_id=3, label="new@1.0.0", strength=None, ci_low=None,
                                     ci_high=None, games=0, wins=0, losses=0, is_active=True, component=None,
                                     win_rate=None),
        ],
        games=10, ties=0, connected=True, confidence=0.95, bootstrap_rounds=200, regularization=0.5,
    )
    deleted, base, new = leaderboard_rows(board)
    assert (deleted.note, deleted.interval, deleted.bar_left, deleted.point, deleted.bar_width) == (
        "deleted", "+0.25 to +0.75", 66.7, 83.3, 33.3)
    assert (base.key, base.bar_left, base.point) == ("base", 0.0, 16.7)
    assert (new.rank, new.note, new.interval, new.ranked, new.key) == ("—", "no games yet", "—", False, "3")
