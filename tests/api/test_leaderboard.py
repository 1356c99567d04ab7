"""GET /api/leaderboard on real rows: adapters registered through the API, clips through the
queue, preferences through POST /preferences."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import make_clips, make_lora_dir
from training_dashboard.services import stats


async def register(client, settings, name: str) -> int:
    make_lora_dir(settings.resolved_adapter_roots[0], name)
    r = await client.post("/adapters", json={"name": name, "path": name, "is_active": True})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def prefer(client, chosen: int, rejected: int, times: int, tie: bool = False) -> None:
    for _ in range(times):
        r = await client.post("/preferences", json={"chosen_id": chosen, "rejected_id": rejected, "tie": tie})
        assert r.status_code == 201, r.text


async def prompt(client, text: str) -> int:
    return (await client.post("/prompts", json={"text": text})).json()["id"]


@pytest.fixture
async def tournament(client, db, settings):
    """warm beats base 8-2 and cold 6-1; base beats cold 7-3; idle never plays. Ties and pairs
    between two clips of the same model are stored too and must not count."""
    warm, cold = await register(client, settings, "warm"), await register(client, settings, "cold")
    idle = await register(client, settings, "idle")
    pid = await prompt(client, "slow piano")
    base = make_clips(db, settings, pid, n=2)
    w = make_clips(db, settings, pid, n=2, adapter_id=warm)
    c = make_clips(db, settings, pid, n=1, adapter_id=cold)
    await prefer(client, w[0], base[0], 8)
    await prefer(client, base[1], w[1], 2)
    await prefer(client, w[1], c[0], 6)
    await prefer(client, c[0], w[0], 1)
    await prefer(client, base[0], c[0], 7)
    await prefer(client, c[0], base[1], 3)
    await prefer(client, w[0], base[0], 2, tie=True)   # a tie between two models: counted, not fitted
    await prefer(client, base[0], base[1], 5)          # same model on both sides: no information
    await prefer(client, w[0], w[1], 4)
    # rows: base, warm, cold, idle (wins[i][j] = i beat j)
    wins = np.array([[0, 2, 7, 0], [8, 0, 6, 0], [3, 1, 0, 0], [0, 0, 0, 0]])
    return {"warm": warm, "cold": cold, "idle": idle, "wins": wins}


async def test_ranks_models_by_bradley_terry_strength(client, tournament):
    r = await client.get("/leaderboard")
    assert r.status_code == 200, r.text
    board = r.json()
    items = board["items"]
    assert [e["label"] for e in items] == ["warm@1.0.0", "base", "cold@1.0.0", "idle@1.0.0"]
    assert [e["rank"] for e in items] == [1, 2, 3, None]
    assert [e["adapter_id"] for e in items] == [tournament["warm"], None, tournament["cold"], tournament["idle"]]
    assert [(e["games"], e["wins"], e["losses"]) for e in items] == [(17, 14, 3), (20, 9, 11), (17, 4, 13), (0, 0, 0)]
    assert items[0]["win_rate"] == round(14 / 17, 4) and items[3]["win_rate"] is None
    assert board["games"] == 27 and board["ties"] == 2
    assert board["connected"] is True and [e["component"] for e in items] == [0, 0, 0, None]
    assert board["bootstrap_rounds"] == stats.BOOTSTRAP_ROUNDS and board["confidence"] == 0.95
    assert board["regularization"] == stats.REGULARIZATION

    # The same fit as the statistics module gives on the hand-counted matrix.
    fit = stats.bradley_terry(tournament["wins"])
    expected = {label: m for label, m in zip(["base", "warm@1.0.0", "cold@1.0.0", "idle@1.0.0"], fit.models,
                                             strict=True)}
    for e in items[:3]:
        m = expected[e["label"]]
        assert e["strength"] == round(m.strength, 4)
        assert (e["ci_low"], e["ci_high"]) == (round(m.ci_low, 4), round(m.ci_high, 4))
        assert e["ci_low"] <= e["strength"] <= e["ci_high"]
        assert e["is_active"] in (True, None) and e["deleted"] is False
    idle = items[3]
    assert (idle["strength"], idle["ci_low"], idle["ci_high"]) == (None, None, None)
    assert idle["is_active"] is True and items[1]["is_active"] is None
    assert (await client.get("/leaderboard")).json() == board  # deterministic (fixed bootstrap seed)


async def test_typed_client(api, tournament):
    board = await api.leaderboard()
    assert board.items[0].adapter_id == tournament["warm"] and board.items[0].rank == 1
    assert board.games == 27


async def test_deleted_adapter_keeps_its_games_in_the_fit(client, tournament):
    before = {e["label"]: e for e in (await client.get("/leaderboard")).json()["items"]}
    assert (await client.delete(f"/adapters/{tournament['cold']}")).status_code == 204
    board = (await client.get("/leaderboard")).json()
    assert [e["label"] for e in board["items"]] == ["warm@1.0.0", "base", "idle@1.0.0"]
    assert board["games"] == 27  # the deleted adapter's games still count...
    for e in board["items"]:  # ...so nobody else's strength moves when the registry changes
        assert (e["strength"], e["games"]) == (before[e["label"]]["strength"], before[e["label"]]["games"])

    shown = (await client.get("/leaderboard", params={"include_deleted": "true"})).json()["items"]
    deleted = [e for e in shown if e["deleted"]]
    assert len(deleted) == 1
    gone = deleted[0]
    assert gone["label"] == f"adapter #{tournament['cold']} (deleted)" and gone["adapter_id"] == tournament["cold"]
    assert gone["rank"] == 3 and gone["is_active"] is None
    assert gone["strength"] == before["cold@1.0.0"]["strength"] and gone["games"] == 17


async def test_empty_state_lists_every_model_without_strength(client, settings):
    board = (await client.get("/leaderboard")).json()
    assert board["games"] == 0 and board["ties"] == 0 and board["connected"] is True
    assert len(board["items"]) == 1
    base = board["items"][0]
    assert base["label"] == "base" and base["adapter_id"] is None
    assert (base["rank"], base["strength"], base["ci_low"], base["games"], base["win_rate"]) == (
        None, None, None, 0, None)

    first, second = await register(client, settings, "first"), await register(client, settings, "second")
    items = (await client.get("/leaderboard")).json()["items"]
    # Nothing played: base first, then the newest adapters first, none ranked.
    assert [e["adapter_id"] for e in items] == [None, second, first]
    assert all(e["rank"] is None and e["strength"] is None and e["games"] == 0 for e in items)


async def test_only_ties_and_same_model_pairs_rank_nobody(client, db, settings):
    aid = await register(client, settings, "solo")
    pid = await prompt(client, "drums")
    base = make_clips(db, settings, pid, n=2)
    mine = make_clips(db, settings, pid, n=1, adapter_id=aid)
    await prefer(client, base[0], base[1], 3)
    await prefer(client, mine[0], base[0], 2, tie=True)
    board = (await client.get("/leaderboard")).json()
    assert board["games"] == 0 and board["ties"] == 2
    assert all(e["rank"] is None and e["games"] == 0 for e in board["items"])


async def test_an_unbeaten_adapter_gets_a_finite_strength_and_a_real_interval(client, db, settings):
    aid = await register(client, settings, "champ")
    pid = await prompt(client, "choir")
    base = make_clips(db, settings, pid, n=1)
    mine = make_clips(db, settings, pid, n=1, adapter_id=aid)
    await prefer(client, mine[0], base[0], 5)
    items = (await client.get("/leaderboard")).json()["items"]
    champ, base_entry = items
    assert champ["adapter_id"] == aid and (champ["wins"], champ["losses"]) == (5, 0)
    assert 0 < champ["strength"] < 5 and champ["strength"] == -base_entry["strength"]
    assert champ["ci_low"] < champ["strength"] <= champ["ci_high"]


async def test_models_never_compared_with_each_other_are_flagged(client, db, settings):
    a, b = await register(client, settings, "alpha"), await register(client, settings, "beta")
    pid, other = await prompt(client, "harp"), await prompt(client, "organ")
    base = make_clips(db, settings, pid, n=1)
    alpha = make_clips(db, settings, pid, n=1, adapter_id=a)
    beta1 = make_clips(db, settings, other, n=1, adapter_id=b)
    await prefer(client, alpha[0], base[0], 3)
    # beta only ever met itself: no games; then a deleted adapter's clips play beta elsewhere
    await prefer(client, beta1[0], make_clips(db, settings, other, n=1, adapter_id=b)[0], 2)
    ghost = make_clips(db, settings, other, n=1, adapter_id=999)
    await prefer(client, beta1[0], ghost[0], 4)
    board = (await client.get("/leaderboard", params={"include_deleted": True})).json()
    assert board["connected"] is False and board["games"] == 7
    comp = {e["label"]: e["component"] for e in board["items"]}
    assert comp["alpha@1.0.0"] == comp["base"] and comp["beta@1.0.0"] == comp["adapter #999 (deleted)"]
    assert comp["alpha@1.0.0"] != comp["beta@1.0.0"]


@pytest.mark.parametrize("value", ["maybe", "2", ""])
async def test_bad_query_parameter_is_a_422_with_a_message(client, value):
    r = await client.get("/leaderboard", params={"include_deleted": value})
    assert r.status_code == 422
    assert "include_deleted" in r.json()["detail"]
