"""Datasets and listening: the ``min_heard_fraction`` filter (preview count == snapshot count ==
exported rows, alone and with every kind of filter it meets) and the ``reason`` column of
preference exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import make_clips
from training_dashboard.db.models import Preference, Rating

CLIP_S = 0.5
# (clip, stars, tags, heard fraction or None, imported)
RATINGS = [
    (0, 5, ["warm"], 1.0, False), (0, 4, [], 0.4, False), (1, 3, ["warm"], None, False),
    (1, 2, ["noisy"], 0.6, False), (2, 5, ["warm", "noisy"], 0.5, False), (2, 1, [], 0.2, False),
    (0, 3, ["noisy"], None, True),
]
# (chosen, rejected, (heard chosen, heard rejected) or None, reason, tie)
PREFERENCES = [
    (0, 1, (1.0, 1.0), "fuller", False), (1, 2, (1.0, 0.2), None, False), (2, 0, None, "no listening", False),
    (0, 2, (0.6, 0.5), "close call", False), (0, 1, (1.0, 1.0), "a tie", True),
]


def listening(clips: list[int], fractions: tuple[float, ...]) -> dict:
    return {"clips": [{"audio_id": c, "heard_s": f * CLIP_S, "duration_s": CLIP_S} for c, f in zip(clips, fractions,
                                                                                                   strict=True)],
            "decision_ms": 2000}


@pytest.fixture
async def seeded(client, db, settings):
    pid = (await client.post("/prompts", json={"text": "lo-fi beat"})).json()["id"]
    clips = make_clips(db, settings, pid, n=3)
    for clip, stars, tags, fraction, imported in RATINGS:
        body = {"audio_id": clips[clip], "rating": stars, "tags": tags, "import": imported}
        if fraction is not None:
            body["listening"] = listening([clips[clip]], (fraction,))
        assert (await client.post("/feedback", json=body)).status_code == 201
    for chosen, rejected, heard, reason, tie in PREFERENCES:
        body = {"chosen_id": clips[chosen], "rejected_id": clips[rejected], "reason": reason, "tie": tie}
        if heard is not None:
            body["listening"] = listening([clips[chosen], clips[rejected]], heard)
        assert (await client.post("/preferences", json=body)).status_code == 201
    return clips


def expected_ratings(flt: dict) -> int:
    """How many ratings (or clips, aggregated) a filter keeps, straight from RATINGS."""
    kept: dict[int, list[int]] = {}
    for clip, stars, tags, fraction, _ in RATINGS:
        if fraction is None or fraction < flt["min_heard_fraction"]:
            continue
        if not set(flt.get("required_tags", [])) <= set(tags) or set(flt.get("excluded_tags", [])) & set(tags):
            continue
        if flt.get("aggregate") != "clip" and stars < flt.get("min_rating", 1):
            continue
        kept.setdefault(clip, []).append(stars)
    if flt.get("aggregate") == "clip":
        return sum(1 for stars in kept.values() if sum(stars) / len(stars) >= flt.get("min_rating", 1))
    return sum(len(stars) for stars in kept.values())


SUPERVISED = [
    {"min_heard_fraction": 0.5}, {"min_heard_fraction": 0}, {"min_heard_fraction": 1},
    {"min_heard_fraction": 0.5, "required_tags": ["warm"]}, {"min_heard_fraction": 0.5, "excluded_tags": ["noisy"]},
    {"min_heard_fraction": 0.3, "required_tags": ["warm"], "excluded_tags": ["noisy"]},
    {"min_heard_fraction": 0.3, "min_rating": 4}, {"min_heard_fraction": 0.5, "aggregate": "clip"},
    {"min_heard_fraction": 0.5, "aggregate": "clip", "min_rating": 4},
]


def _rows(export: dict) -> list[dict]:
    return [json.loads(line) for line in (Path(export["export_path"]) / "manifest.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("flt", SUPERVISED, ids=[json.dumps(f) for f in SUPERVISED])
async def test_min_heard_fraction_preview_equals_snapshot_equals_export(client, db, seeded, flt):
    expected = expected_ratings(flt)
    assert (await client.post("/datasets/preview", json={"filter": flt})).json()["count"] == expected
    created = await client.post("/datasets", json={"name": "heard", "filter": flt})
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert dataset["sample_count"] == expected and dataset["filter"]["min_heard_fraction"] == flt["min_heard_fraction"]
    export = (await client.post(f"/datasets/{dataset['id']}/export", json={"format": "jsonl"})).json()
    rows = _rows(export)
    assert len(rows) == export["sample_count"] == expected
    if flt.get("aggregate") != "clip":
        with db.session() as session:
            fractions = session.scalars(select(Rating.heard_fraction).where(Rating.id.in_([r["id"] for r in rows])))
            assert all(f is not None and f >= flt["min_heard_fraction"] for f in fractions)


@pytest.mark.parametrize(("minimum", "expected"), [(None, 4), (0, 3), (0.5, 2), (0.6, 1), (1, 1)])
async def test_preference_min_heard_fraction_and_reasons_in_the_export(client, db, seeded, minimum, expected):
    flt = {} if minimum is None else {"min_heard_fraction": minimum}
    preview = await client.post("/datasets/preview", json={"type": "preference", "filter": flt})
    assert preview.json()["count"] == expected, preview.text
    dataset = (await client.post("/datasets", json={"name": "prefs", "type": "preference", "filter": flt})).json()
    assert dataset["sample_count"] == expected
    export = (await client.post(f"/datasets/{dataset['id']}/export", json={"format": "jsonl"})).json()
    rows = _rows(export)
    assert len(rows) == export["sample_count"] == expected
    with db.session() as session:
        stored = {p.id: p for p in session.scalars(select(Preference))}
    for row in rows:
        assert row["reason"] == (stored[row["id"]].reason or "")
        if minimum is not None:
            assert stored[row["id"]].heard_fraction >= minimum
    if minimum is None:
        assert sorted(r["reason"] for r in rows) == ["", "close call", "fuller", "no listening"]


async def test_min_heard_fraction_bad_input(client, seeded):
    for bad in (-0.1, 1.01, "half", None):
        r = await client.post("/datasets/preview", json={"filter": {"min_heard_fraction": bad}})
        if bad is None:
            assert r.status_code == 200
        else:
            assert r.status_code == 422 and "min_heard_fraction" in r.json()["detail"], bad
